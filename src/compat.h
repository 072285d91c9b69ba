/* The few Lua C API differences between Lua 5.4, LuaJIT 2.1 and plain Lua 5.1
 * headers that the binding meets. LUA_VERSION_NUM 501 is LuaJIT or Lua 5.1;
 * LuaJIT's lauxlib.h is told apart by its luaL_newlibtable macro. */
#ifndef PG_COMPAT_H
#define PG_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

/* A function missing from the headers in use must fail the build, never be
 * declared implicitly (an int return would truncate pointers at run time). */
#if defined(__GNUC__)
#pragma GCC diagnostic error "-Wimplicit-function-declaration"
#endif

#if LUA_VERSION_NUM == 501
#define lua_rawlen(L, i) lua_objlen((L), (i))
#ifndef LUA_GCISRUNNING
#define LUA_GCISRUNNING 9 /* LuaJIT's, missing from plain Lua 5.1 headers */
#endif
#define lua_newuserdatauv(L, s, n) lua_newuserdata((L), (s))

#if !defined(luaL_newlibtable)
/* Plain Lua 5.1 headers (LuaRocks may pick them for --lua-version=5.1): the
 * 5.2 auxiliary functions LuaJIT has, written here with the 5.1 API only. */
static inline void pg_setfuncs(lua_State *L, const luaL_Reg *l, int nup)
{
    for (; l->name; l++) {
        int i;
        for (i = 0; i < nup; i++)
            lua_pushvalue(L, -nup);
        lua_pushcclosure(L, l->func, nup);
        lua_setfield(L, -(nup + 2), l->name);
    }
    lua_pop(L, nup);
}

static inline void *pg_testudata(lua_State *L, int i, const char *tname)
{
    void *p = lua_touserdata(L, i);
    int same;
    if (!p || !lua_getmetatable(L, i))
        return NULL;
    luaL_getmetatable(L, tname);
    same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same ? p : NULL;
}
#define luaL_setfuncs pg_setfuncs
#define luaL_testudata pg_testudata
#endif

/* A userdata's user values live in its environment, a table made with it. */
static inline void *pg_newuserdata(lua_State *L, size_t size, int nuv)
{
    void *p = lua_newuserdata(L, size);
    lua_createtable(L, nuv, 0);
    lua_setfenv(L, -2);
    return p;
}

/* Pops a value into user value n of the userdata at ud. */
static inline void pg_setuv(lua_State *L, int ud, int n)
{
    lua_getfenv(L, ud);
    lua_insert(L, -2);
    lua_rawseti(L, -2, n);
    lua_pop(L, 1);
}

/* Pushes user value n of the userdata at ud. */
static inline void pg_getuv(lua_State *L, int ud, int n)
{
    lua_getfenv(L, ud);
    lua_rawgeti(L, -1, n);
    lua_remove(L, -2);
}
#else
#define pg_newuserdata(L, s, n) lua_newuserdatauv((L), (s), (n))
#define pg_setuv(L, ud, n) ((void)lua_setiuservalue((L), (ud), (n)))
#define pg_getuv(L, ud, n) ((void)lua_getiuservalue((L), (ud), (n)))
#endif

#endif
