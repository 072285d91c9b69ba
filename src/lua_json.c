/* progallery.encodeJSON: exact JSON text from Lua values, through the core's
 * value trees and encoder (used by progallery.http for every response). */
#include <math.h>

#include "json.h"
#include "lua_binding.h"

/* Lua cannot tell an empty array from an empty object: an empty table under a
 * key of the set at index `keys` becomes [], except inside members named in
 * the set at `opaque` (free-form user data). Returns a problem, or NULL. */
static const char *settle_arrays(lua_State *L, pg_value *v, int keys, int opaque)
{
    size_t i;
    const char *problem = NULL;
    if (v->type == PG_INVALID)
        return v->u.str.s;
    if (v->type == PG_NUMBER && !isfinite(v->u.n))
        return "NaN or an infinity (JSON has no such number)"; /* the writer would say null */
    if (v->type == PG_ARRAY)
        for (i = 0; i < v->u.arr.n && !problem; i++)
            problem = settle_arrays(L, v->u.arr.v[i], keys, opaque);
    if (v->type != PG_OBJECT)
        return problem;
    for (i = 0; i < v->u.obj.n && !problem; i++) {
        pg_member *m = &v->u.obj.m[i];
        int skip = 0;
        if (m->val->type != PG_OBJECT && m->val->type != PG_ARRAY) {
            problem = settle_arrays(L, m->val, 0, 0); /* scalars need no key lookups */
            continue;
        }
        if (opaque) {
            lua_pushlstring(L, m->key, m->keylen);
            lua_rawget(L, opaque);
            skip = lua_toboolean(L, -1);
            lua_pop(L, 1);
        }
        if (m->val->type == PG_OBJECT && m->val->u.obj.n == 0 && keys && !skip) {
            lua_pushlstring(L, m->key, m->keylen);
            lua_rawget(L, keys);
            if (lua_toboolean(L, -1))
                m->val->type = PG_ARRAY; /* empty either way: u.arr and u.obj are both {NULL, 0, 0} */
            lua_pop(L, 1);
        }
        /* inside free-form data nothing is converted, but everything is checked */
        problem = settle_arrays(L, m->val, skip ? 0 : keys, opaque);
    }
    return problem;
}

/* Scratch memory of a Lua-facing codec call (an arena, and the text buffer the
 * encoder writes into) lives in a userdata, so that it is freed with the module,
 * or, for a temporary one, by the GC even if a Lua error interrupts. */
static int l_scratch_gc(lua_State *L)
{
    pg_lua_scratch *b = lua_touserdata(L, 1);
    pg_arena_free(b->a);
    b->a = NULL;
    pg_strbuf_free(&b->out);
    return 0;
}

pg_lua_scratch *pg_lua_push_scratch(lua_State *L)
{
    pg_lua_scratch *b = pg_newuserdata(L, sizeof *b, 0);
    b->a = NULL;
    b->busy = 0;
    pg_strbuf_init(&b->out, NULL, 0);
    if (luaL_newmetatable(L, "progallery.scratch")) {
        lua_pushcfunction(L, l_scratch_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    if (!(b->a = pg_arena_new()))
        luaL_error(L, "progallery: out of memory");
    return b;
}

/* progallery.encodeJSON(value[, arrayKeys[, opaqueKeys]]) -> JSON text, or nil,
 * message, code. Exact numbers (the shortest text that reads back the same
 * double), UTF-8 passed through, tables read raw; an empty table is {} unless
 * marked with cjson's array metatable or found under a key of arrayKeys. */
static int l_encode_json(lua_State *L)
{
    pg_lua_scratch *box = lua_touserdata(L, lua_upvalueindex(1));
    pg_reader r;
    pg_value *v;
    const char *problem;
    int written;
    int keys = lua_istable(L, 2) ? 2 : 0, opaque = lua_istable(L, 3) ? 3 : 0;
    lua_settop(L, 3);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_ARRAY_MT);
    if (box->busy) /* called from a finalizer during an encode: a scratch arena of its own */
        box = pg_lua_push_scratch(L);
    r.L = L;
    r.a = box->a;
    r.budget = PG_LUA_MAX_NODES;
    r.array_mt = lua_istable(L, 4) ? 4 : 0;
    r.refs = r.nrefs = 0; /* the text is the result: no strings to give back */
    pg_arena_reset(box->a);
    box->busy = 1;
    if (!(v = pg_lua_read(&r, 1, 1)))
        problem = "out of memory";
    else
        problem = settle_arrays(L, v, keys, opaque);
    /* written once, into the kept buffer, and copied once, into the Lua string */
    pg_strbuf_reset(&box->out, 1 << 20);
    written = !problem && pg_json_write(&box->out, v);
    pg_arena_reset(box->a);
    box->busy = 0;
    if (problem)
        return lua_pushnil(L), lua_pushfstring(L, "json: cannot encode this value: %s", problem),
               lua_pushliteral(L, "INVALID_ARGUMENT"), 3;
    if (!written)
        return pg_lua_fail(L, PG_INTERNAL, "out of memory");
    lua_pushlstring(L, box->out.buf, box->out.len);
    return 1;
}

void pg_lua_push_encoder(lua_State *L)
{
    pg_lua_push_scratch(L);
    lua_pushcclosure(L, l_encode_json, 1);
}
