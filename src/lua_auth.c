/* Identities and elevation (spec section 5): who a store's calls run as, and
 * whether the running coroutine is inside an elevate()d call. The registry
 * tables below are reachable from no public module, so only elevate() can
 * change them. */
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

/* ---- elevation ------------------------------------------------------------------ */

/* elevate(fn) returns a wrapper closure, remembered in REG_WRAPPERS. A call is
 * elevated while such a wrapper is running below it on the same coroutine's
 * stack, and no finalizer or debug hook stands between the two: elevation is
 * a fact about the stack, so it ends on every path out of the wrapper (a
 * return, an error, a stack overflow, a memory error), with nothing to undo.
 * REG_ELEVATION counts the wrappers entered per coroutine, so that the common
 * case, none, costs one lookup; the count may run high when a wrapper is left
 * by an error before it could count down, and a walk of the whole stack that
 * finds no wrapper resets it. */
#define REG_WRAPPERS "progallery.elevated"

static lua_Integer entered(lua_State *L)
{
    lua_Integer n;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_ELEVATION);
    lua_pushthread(L);
    lua_rawget(L, -2);
    n = lua_tointeger(L, -1);
    lua_pop(L, 2);
    return n;
}

static void set_entered(lua_State *L, lua_Integer n)
{
    lua_getfield(L, LUA_REGISTRYINDEX, REG_ELEVATION);
    lua_pushthread(L);
    if (n > 0)
        lua_pushinteger(L, n);
    else
        lua_pushnil(L);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* A finalizer is running (it may have interrupted an elevated call). Lua 5.4
 * also names each finalizer's frame "__gc" (checked in the walk); LuaJIT runs
 * finalizers with the collector stopped and shows nothing else, so there a
 * stopped collector counts as a finalizer: no elevation while it is stopped. */
static int in_finalizer(lua_State *L)
{
#if LUA_VERSION_NUM >= 504
    return lua_gc(L, LUA_GCISRUNNING, 0) < 0; /* 5.4.4+: -1 inside a finalizer */
#else
    return lua_gc(L, LUA_GCISRUNNING, 0) == 0;
#endif
}

/* A frame that runs on behalf of no caller: a finalizer, or a debug hook. */
static int interrupting(const lua_Debug *ar)
{
    const char *w = ar->namewhat, *n = ar->name;
    return w && (strcmp(w, "hook") == 0 || (strcmp(w, "metamethod") == 0 && n && strcmp(n, "__gc") == 0));
}

int pg_lua_elevated(lua_State *L)
{
    lua_Debug ar;
    int level, found = 0;
    if (entered(L) <= 0 || in_finalizer(L))
        return 0;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_WRAPPERS);
    for (level = 1; !found && lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "nf", &ar))
            break;
        if (interrupting(&ar)) {
            found = -1;
        } else {
            lua_rawget(L, -2);
            found = lua_toboolean(L, -1);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (!found)
        set_entered(L, 0);
    return found > 0;
}

static int elevate_enter(lua_State *L)
{
    set_entered(L, entered(L) + 1);
    return 0;
}

static int elevate_leave(lua_State *L)
{
    set_entered(L, entered(L) - 1);
    return 0;
}

static int elevate_mark(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, REG_WRAPPERS);
    lua_pushvalue(L, 1);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    return 0;
}

/* Written in Lua so that the elevated function may yield (OpenResty). The
 * wrapper tail-calls finish, so that its frame is gone before an error goes
 * on to the caller (whose message handler must not run elevated); finish is
 * Lua for the same reason: a tail call into a C function keeps the frame. */
static const char elevate_src[] =
    "local enter, leave, mark, pcall, error, type, getmetatable = ...\n"
    "local function callable(f)\n"
    "  if type(f) == 'function' then return true end\n"
    "  local mt = (type(f) == 'table' or type(f) == 'userdata') and getmetatable(f)\n"
    "  return type(mt) == 'table' and mt.__call ~= nil\n"
    "end\n"
    "local function finish(ok, ...)\n"
    "  leave()\n"
    "  if ok then return ... end\n"
    "  error((...), 0)\n"
    "end\n"
    "return function(fn)\n"
    "  if not callable(fn) then\n"
    "    return nil, 'fn: expected a function, got ' .. type(fn), 'INVALID_ARGUMENT'\n"
    "  end\n"
    "  local function elevated(...)\n"
    "    enter()\n"
    "    return finish(pcall(fn, ...))\n"
    "  end\n"
    "  mark(elevated)\n"
    "  return elevated\n"
    "end\n";

void pg_lua_push_elevate(lua_State *L)
{
    if (luaL_loadbuffer(L, elevate_src, sizeof elevate_src - 1, "=progallery.elevate") != 0)
        lua_error(L);
    lua_pushcfunction(L, elevate_enter);
    lua_pushcfunction(L, elevate_leave);
    lua_pushcfunction(L, elevate_mark);
    lua_getglobal(L, "pcall");
    lua_getglobal(L, "error");
    lua_getglobal(L, "type");
    lua_getglobal(L, "getmetatable");
    lua_call(L, 7, 1);
}

static void weak_keyed(lua_State *L, const char *name)
{
    lua_getfield(L, LUA_REGISTRYINDEX, name);
    if (!lua_istable(L, -1)) {
        lua_newtable(L);
        lua_createtable(L, 0, 1);
        lua_pushliteral(L, "k");
        lua_setfield(L, -2, "__mode");
        lua_setmetatable(L, -2);
        lua_setfield(L, LUA_REGISTRYINDEX, name);
    }
    lua_pop(L, 1);
}

void pg_lua_init_elevation(lua_State *L)
{
    weak_keyed(L, REG_ELEVATION); /* coroutine -> wrappers entered; dead ones drop out */
    weak_keyed(L, REG_WRAPPERS);  /* wrapper -> true, while it can still be called */
}
