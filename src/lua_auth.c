/* Identities and elevation (spec section 5): who a store's calls run as, and
 * whether the running coroutine is inside an elevate()d call. The elevation
 * depth lives in a registry table keyed by coroutine (weak keys), reachable
 * from no public module, so only elevate() can change it. */
#include <string.h>

#include "lua_binding.h"

#define REG_ELEVATION "progallery.elevation"

const char *const pg_role_names[3] = { "visitor", "member", "admin" };

/* Exact comparison of a Lua string with a C name: "admin\0x" is not "admin". */
static int is_name(const char *s, size_t len, const char *name)
{
    return s && strlen(name) == len && memcmp(s, name, len) == 0;
}

/* "admin" | "member" | "visitor" | { role = ..., id = ... } */
int pg_lua_identity(lua_State *L, int idx, pg_role *out, pg_status *st)
{
    const char *s = NULL;
    size_t len = 0;
    int i, t = lua_type(L, idx);
    if (t == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            size_t klen = 0;
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &klen) : NULL;
            int is_id = is_name(k, klen, "id");
            int bad_id = is_id && lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER;
            lua_pop(L, 1);
            if (!(is_id || is_name(k, klen, "role")) || bad_id) {
                lua_pop(L, 1);
                return pg_fail(st, PG_INVALID_ARGUMENT,
                               bad_id ? "caller.id: expected a string"
                                      : "caller: only the keys role and id are allowed");
            }
        }
        pg_lua_raw_field(L, idx, "role");
        if (lua_type(L, -1) == LUA_TSTRING)
            s = lua_tolstring(L, -1, &len);
        lua_pop(L, 1); /* compared below, before anything can run that might free it */
    } else if (t == LUA_TSTRING) {
        s = lua_tolstring(L, idx, &len);
    }
    for (i = 0; s && i < 3; i++) {
        if (is_name(s, len, pg_role_names[i])) {
            *out = (pg_role)i;
            return 1;
        }
    }
    return pg_fail(st, PG_INVALID_ARGUMENT,
                   "caller: expected \"admin\", \"member\", \"visitor\" or {role=..., id=...}");
}

/* Elevation depth of the running coroutine (weak-keyed registry table). */
lua_Integer pg_lua_elevation(lua_State *L)
{
    lua_Integer depth;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_ELEVATION);
    lua_pushthread(L);
    lua_rawget(L, -2);
    depth = lua_tointeger(L, -1);
    lua_pop(L, 2);
    return depth;
}

static void set_elevation(lua_State *L, lua_Integer depth)
{
    lua_getfield(L, LUA_REGISTRYINDEX, REG_ELEVATION);
    lua_pushthread(L);
    if (depth > 0)
        lua_pushinteger(L, depth);
    else
        lua_pushnil(L);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

static int elevate_enter(lua_State *L)
{
    set_elevation(L, pg_lua_elevation(L) + 1);
    return 0;
}

/* leave(ok, ...): ends one level of elevation, then returns or rethrows. */
static int elevate_leave(lua_State *L)
{
    set_elevation(L, pg_lua_elevation(L) - 1);
    if (!lua_toboolean(L, 1)) {
        lua_settop(L, 2);
        return lua_error(L); /* the error value, unchanged */
    }
    return lua_gettop(L) - 1;
}

/* Written in Lua so that the elevated function may yield (OpenResty). */
static const char elevate_src[] =
    "local enter, leave, pcall, type, getmetatable = ...\n"
    "local function callable(f)\n"
    "  if type(f) == 'function' then return true end\n"
    "  local mt = (type(f) == 'table' or type(f) == 'userdata') and getmetatable(f)\n"
    "  return type(mt) == 'table' and mt.__call ~= nil\n"
    "end\n"
    "return function(fn)\n"
    "  if not callable(fn) then\n"
    "    return nil, 'fn: expected a function, got ' .. type(fn), 'INVALID_ARGUMENT'\n"
    "  end\n"
    "  return function(...)\n"
    "    enter()\n"
    "    return leave(pcall(fn, ...))\n"
    "  end\n"
    "end\n";

void pg_lua_push_elevate(lua_State *L)
{
    if (luaL_loadbuffer(L, elevate_src, sizeof elevate_src - 1, "=progallery.elevate") != 0)
        lua_error(L);
    lua_pushcfunction(L, elevate_enter);
    lua_pushcfunction(L, elevate_leave);
    lua_getglobal(L, "pcall");
    lua_getglobal(L, "type");
    lua_getglobal(L, "getmetatable");
    lua_call(L, 5, 1);
}

void pg_lua_init_elevation(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, REG_ELEVATION);
    if (!lua_istable(L, -1)) {
        lua_newtable(L); /* thread -> depth, weak keys: dead coroutines drop out */
        lua_createtable(L, 0, 1);
        lua_pushliteral(L, "k");
        lua_setfield(L, -2, "__mode");
        lua_setmetatable(L, -2);
        lua_setfield(L, LUA_REGISTRYINDEX, REG_ELEVATION);
    }
    lua_pop(L, 1);
}
