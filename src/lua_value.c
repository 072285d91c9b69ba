/* Lua values <-> the core's value trees, and failures as nil, message, code.
 * Tables are read raw (no metamethod runs, so none can raise); every Lua value
 * becomes a node, and values with no place in the model become PG_INVALID
 * nodes, so the core reports them with their field path. */
#include <stdint.h>
#include <string.h>

#include "lua_binding.h"

int pg_lua_fail(lua_State *L, pg_code code, const char *msg)
{
    lua_pushnil(L);
    lua_pushstring(L, msg);
    lua_pushstring(L, pg_code_name(code));
    return 3;
}

int pg_lua_status(lua_State *L, const pg_status *st)
{
    return pg_lua_fail(L, st->code, st->msg);
}

/* One pass over a table: string keys make an object, keys 1..n an array;
 * anything else (other keys, a mix, holes) is a PG_INVALID node. */
static pg_value *read_table(pg_reader *r, int idx, int depth)
{
    lua_State *L = r->L;
    const void *self = lua_topointer(L, idx);
    pg_value *obj, *arr = NULL;
    lua_Number maxkey = 0;
    const char *problem = NULL;
    size_t i;
    int d;
    if (depth > PG_LUA_MAX_DEPTH || !lua_checkstack(L, 6))
        return pg_new_invalid(r->a, "table nested too deeply");
    for (d = 1; d < depth; d++)
        if (r->path[d] == self)
            return pg_new_invalid(r->a, "table that contains itself (a cycle)");
    r->path[depth] = self;
    if (!(obj = pg_new_object(r->a, 0)))
        return NULL;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int kt = lua_type(L, -2);
        lua_Number k = kt == LUA_TNUMBER ? lua_tonumber(L, -2) : 0;
        pg_value *e;
        if (r->budget == 0)
            problem = "table too large";
        else if (kt != LUA_TSTRING && !(k >= 1 && k <= 4294967295.0 && k == (lua_Number)(size_t)k))
            problem = "table with keys that are neither all names nor 1..n";
        if (problem) {
            lua_pop(L, 2); /* value and key: this traversal ends here */
            return pg_new_invalid(r->a, problem);
        }
        r->budget--;
        if (!(e = pg_lua_read(r, lua_gettop(L), depth + 1))) {
            lua_pop(L, 2);
            return NULL;
        }
        lua_pop(L, 1);
        if (kt == LUA_TSTRING) {
            size_t klen;
            const char *key = lua_tolstring(L, -1, &klen); /* a string already: no conversion */
            /* Copied: nothing else keeps a key alive once the GC runs (a weak
             * table, a finalizer that clears the caller's tables). */
            if (!(key = pg_arena_strdup(r->a, key, klen)) || !pg_obj_addl(r->a, obj, key, klen, e)) {
                lua_pop(L, 1);
                return NULL;
            }
        } else {
            /* array entries in any order: keep the key in keylen for now */
            if (!arr && !(arr = pg_new_object(r->a, 0))) {
                lua_pop(L, 1);
                return NULL;
            }
            if (!pg_obj_addl(r->a, arr, NULL, (size_t)k, e)) {
                lua_pop(L, 1);
                return NULL;
            }
            if (k > maxkey)
                maxkey = k;
        }
    }
    if (!arr) {
        /* an empty table marked as an array by cjson (JSON encoding only) */
        if (obj->u.obj.n == 0 && r->array_mt && lua_getmetatable(L, idx)) {
            int marked = lua_rawequal(L, -1, r->array_mt);
            lua_pop(L, 1);
            if (marked)
                return pg_new_array(r->a, 0);
        }
        return obj;
    }
    if (obj->u.obj.n)
        return pg_new_invalid(r->a, "table with keys that are neither all names nor 1..n");
    if (maxkey != (lua_Number)arr->u.obj.n)
        return pg_new_invalid(r->a, "array with holes");
    obj = pg_new_array(r->a, arr->u.obj.n);
    if (!obj)
        return NULL;
    for (i = 0; i < arr->u.obj.n; i++)
        obj->u.arr.v[arr->u.obj.m[i].keylen - 1] = arr->u.obj.m[i].val;
    obj->u.arr.n = arr->u.obj.n;
    return obj;
}

/* Every Lua value becomes a node; values with no place in the model become
 * PG_INVALID nodes, so the core reports them with their field path. Tables
 * are read raw: no metamethod runs, so none can raise. NULL means OOM. */
pg_value *pg_lua_read(pg_reader *r, int idx, int depth)
{
    lua_State *L = r->L;
    switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN: return pg_new_bool(r->a, lua_toboolean(L, idx));
    case LUA_TNUMBER:
#if LUA_VERSION_NUM >= 503
        /* a Lua 5.4 integer that a double cannot hold exactly is refused, not rounded */
        if (lua_isinteger(L, idx)) {
            lua_Integer i = lua_tointeger(L, idx);
            if (i > ((lua_Integer)1 << 53) || i < -((lua_Integer)1 << 53))
                return pg_new_invalid(r->a, "integer beyond 2^53 (not exact as a number)");
        }
#endif
        return pg_new_number(r->a, (double)lua_tonumber(L, idx));
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        pg_value *v;
        if (!r->refs) /* a copy: the caller's tables may let go of s during the call */
            return pg_new_string(r->a, s, len);
        /* No copy: the call's string table keeps s alive, and a result that
         * echoes it reuses this object instead of allocating a copy. */
        if ((v = pg_new_string_ref(r->a, s, len))) {
            lua_pushvalue(L, idx);
            lua_rawseti(L, r->refs, ++r->nrefs);
            v->u.str.ref = r->nrefs;
        }
        return v;
    }
    case LUA_TTABLE: return read_table(r, idx, depth);
    case LUA_TLIGHTUSERDATA:
        return lua_touserdata(L, idx) == NULL ? pg_new_null(r->a)
                                              : pg_new_invalid(r->a, "lightuserdata");
    case LUA_TFUNCTION: return pg_new_invalid(r->a, "function");
    case LUA_TTHREAD: return pg_new_invalid(r->a, "coroutine");
    case LUA_TUSERDATA: return pg_new_invalid(r->a, "userdata");
    default: return pg_new_invalid(r->a, lua_typename(L, lua_type(L, idx))); /* LuaJIT's cdata */
    }
}

/* ---- value tree -> Lua -------------------------------------------------------- */

/* Names repeat in every item of a result ("_id", "title", "imageInfo"...);
 * pushing one anew costs a hash of all its bytes and a lookup in Lua's string
 * table. A push of many objects keeps the names it made in stack slots, found
 * again through a small open-addressing table and compared in full. */
#define NAME_SLOTS 64
#define NAME_PROBES 4

typedef struct {
    lua_State *L;
    int array_mt; /* stack index of cjson's array metatable, or 0 */
    int refs;     /* stack index of the call's string table, or 0 */
    int names;    /* stack index of the first of NAME_SLOTS slots, or 0: no cache */
    const char *name[NAME_SLOTS]; /* valid while the tree is: one push */
    size_t len[NAME_SLOTS];
} pusher;

static void push_name(pusher *p, const char *k, size_t len)
{
    uint32_t h = 2166136261u;
    size_t i;
    if (p->names) {
        for (i = 0; i < len; i++)
            h = (h ^ (unsigned char)k[i]) * 16777619u;
        for (i = 0; i < NAME_PROBES; i++) {
            unsigned s = (unsigned)(h + i) % NAME_SLOTS;
            if (!p->name[s]) {
                lua_pushlstring(p->L, k, len);
                lua_pushvalue(p->L, -1);
                lua_replace(p->L, p->names + (int)s);
                p->name[s] = k;
                p->len[s] = len;
                return;
            }
            if (p->len[s] == len && memcmp(p->name[s], k, len) == 0) {
                lua_pushvalue(p->L, p->names + (int)s);
                return;
            }
        }
    }
    lua_pushlstring(p->L, k, len);
}

/* The argument's string object behind a string node, when the node still
 * holds exactly that string (the core may have built a different one). */
static int push_ref(pusher *p, const pg_value *v)
{
    size_t n;
    const char *s;
    if (!p->refs || !v->u.str.ref)
        return 0;
    lua_rawgeti(p->L, p->refs, v->u.str.ref);
    s = lua_tolstring(p->L, -1, &n);
    if (s == v->u.str.s && n == v->u.str.len)
        return 1;
    lua_pop(p->L, 1);
    return 0;
}

static void push_tree(pusher *p, const pg_value *v)
{
    lua_State *L = p->L;
    size_t i;
    switch (v->type) {
    case PG_BOOL: lua_pushboolean(L, v->u.b); break;
    case PG_NUMBER:
        /* One rule on both VMs: integral values within 2^53 are integers. */
        if (pg_number_is_int(v->u.n))
            lua_pushinteger(L, (lua_Integer)v->u.n);
        else
            lua_pushnumber(L, (lua_Number)v->u.n);
        break;
    case PG_STRING:
        if (!push_ref(p, v))
            lua_pushlstring(L, v->u.str.s, v->u.str.len);
        break;
    case PG_ARRAY:
        luaL_checkstack(L, 3, "progallery: result nested too deeply");
        lua_createtable(L, (int)v->u.arr.n, 0);
        for (i = 0; i < v->u.arr.n; i++) {
            push_tree(p, v->u.arr.v[i]);
            lua_rawseti(L, -2, (int)i + 1);
        }
        if (p->array_mt) {
            lua_pushvalue(L, p->array_mt);
            lua_setmetatable(L, -2);
        }
        break;
    case PG_OBJECT:
        luaL_checkstack(L, 3, "progallery: result nested too deeply");
        lua_createtable(L, 0, (int)v->u.obj.n);
        for (i = 0; i < v->u.obj.n; i++) {
            push_name(p, v->u.obj.m[i].key, v->u.obj.m[i].keylen);
            push_tree(p, v->u.obj.m[i].val);
            lua_rawset(L, -3);
        }
        break;
    default: lua_pushlightuserdata(L, NULL); break;
    }
}

/* A result worth the name cache: a list of objects in its first level. */
static int many_objects(const pg_value *v)
{
    size_t i;
    if (v->type != PG_OBJECT)
        return 0;
    for (i = 0; i < v->u.obj.n; i++) {
        const pg_value *m = v->u.obj.m[i].val;
        if (m->type == PG_ARRAY && m->u.arr.n >= 2 && m->u.arr.v[0]->type == PG_OBJECT)
            return 1;
    }
    return 0;
}

/* Pushes a result. Arrays get cjson's array metatable when the cjson in use
 * has one, so an empty array encodes as [] rather than {}. */
void pg_lua_push(lua_State *L, const pg_value *v, int refs)
{
    pusher p;
    int i, top = lua_gettop(L);
    luaL_checkstack(L, NAME_SLOTS + 4, "progallery: result nested too deeply");
    lua_getfield(L, LUA_REGISTRYINDEX, REG_ARRAY_MT);
    p.L = L;
    p.array_mt = lua_istable(L, -1) ? lua_gettop(L) : 0;
    p.refs = refs;
    p.names = 0;
    if (many_objects(v)) {
        p.names = lua_gettop(L) + 1;
        for (i = 0; i < NAME_SLOTS; i++) {
            lua_pushnil(L);
            p.name[i] = NULL;
        }
    }
    push_tree(&p, v);
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
}

/* Raw: a caller's metatable never runs (and so never raises) here. */
void pg_lua_raw_field(lua_State *L, int idx, const char *key)
{
    lua_pushstring(L, key);
    lua_rawget(L, idx);
}
