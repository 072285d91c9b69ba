/* progallery.restShape: the REST codec of the core (rest.h) for Lua values,
 * the one implementation behind progallery.rest. */
#include <string.h>

#include "lua_binding.h"
#include "rest.h"

typedef struct {
    pg_value *v;
} push_ctx;

static int push_result(lua_State *L)
{
    push_ctx *c = lua_touserdata(L, 1);
    pg_lua_push(L, c->v, 0);
    return 1;
}

/* progallery.restShape(value, "toRest" | "fromRest"[, root]) -> the value in the
 * other shape (a copy; tables read raw), or nil, message, code. toRest: the Velo
 * names as REST's, media strings parsed into Wix's objects, numbers that are not
 * finite as "NaN" / "Infinity" / "-Infinity". fromRest: the other way, media
 * objects as their Velo strings, and those three strings back to numbers in the
 * float fields. Messages start with the field path under root. */
static int l_rest_shape(lua_State *L)
{
    static const pg_shape to_rest = { PG_NAMES_TO_REST, PG_MEDIA_OBJECTS, 1, 0 };
    static const pg_shape from_rest = { PG_NAMES_FROM_REST, PG_MEDIA_STRINGS, -1, 0 };
    pg_lua_scratch *box = lua_touserdata(L, lua_upvalueindex(1));
    const char *dir = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "";
    const pg_shape *how = strcmp(dir, "toRest") == 0 ? &to_rest
                        : strcmp(dir, "fromRest") == 0 ? &from_rest : NULL;
    const char *root = lua_type(L, 3) == LUA_TSTRING ? lua_tostring(L, 3) : "";
    pg_reader r;
    pg_path path;
    pg_status st;
    push_ctx c;
    int ok, rc;
    if (!how)
        return pg_lua_fail(L, PG_INVALID_ARGUMENT, "direction: expected \"toRest\" or \"fromRest\"");
    lua_settop(L, 3);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_ARRAY_MT);
    if (box->busy) /* called from a finalizer during a call: scratch memory of its own */
        box = pg_lua_push_scratch(L);
    r.L = L;
    r.a = box->a;
    r.budget = PG_LUA_MAX_NODES;
    r.array_mt = lua_istable(L, 4) ? 4 : 0;
    r.refs = r.nrefs = 0;
    pg_arena_reset(box->a);
    box->busy = 1;
    pg_path_init(&path, root);
    c.v = pg_lua_read(&r, 1, 1);
    ok = c.v ? pg_rest_shape(box->a, c.v, how, &path, &st) : pg_fail(&st, PG_INTERNAL, "out of memory");
    if (!ok) {
        pg_arena_reset(box->a);
        box->busy = 0;
        return pg_lua_status(L, &st);
    }
    /* pushing allocates, so the GC may run finalizers: protected, so that the
     * scratch memory is released whatever happens */
    lua_pushcfunction(L, push_result);
    lua_pushlightuserdata(L, &c);
    rc = lua_pcall(L, 1, 1, 0);
    pg_arena_reset(box->a);
    box->busy = 0;
    if (rc != 0)
        return lua_error(L);
    return 1;
}

void pg_lua_push_rest_shape(lua_State *L)
{
    pg_lua_push_scratch(L);
    lua_pushcclosure(L, l_rest_shape, 1);
}
