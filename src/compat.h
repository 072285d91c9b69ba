/* The few Lua C API differences between Lua 5.4 and LuaJIT 2.1 (5.1 ABI)
 * that the binding meets. LUA_VERSION_NUM 501 means LuaJIT here. */
#ifndef PG_COMPAT_H
#define PG_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM == 501
#define lua_rawlen(L, i) lua_objlen((L), (i))
#define lua_newuserdatauv(L, s, n) lua_newuserdata((L), (s))
/* A view keeps its parent store alive through the userdata's environment. */
static inline void pg_setparent(lua_State *L, int ud, int parent)
{
    lua_createtable(L, 1, 0);
    lua_pushvalue(L, parent);
    lua_rawseti(L, -2, 1);
    lua_setfenv(L, ud);
}
#else
static inline void pg_setparent(lua_State *L, int ud, int parent)
{
    lua_pushvalue(L, parent);
    lua_setiuservalue(L, ud, 1);
}
#endif

#endif
