/* Lua binding of progallery: marshalling only. Lua values become value trees
 * for the core (api.c), results come back as Lua tables, failures as
 * nil, message, code. It also owns what only Lua can know: who is calling
 * (the store's identity) and whether the running coroutine is elevated. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "compat.h"

#define PG_VERSION "0.1.0"
#define STORE_MT "progallery.store"
#define REG_ELEVATION "progallery.elevation"
#define REG_DEFAULT "progallery.default"
#define REG_ARRAY_MT "progallery.array_mt"

/* Conversion guards: a cycle shows up as depth; a huge table as budget. */
#define MAX_DEPTH 40
#define MAX_NODES 5000000

typedef enum { ROLE_VISITOR, ROLE_MEMBER, ROLE_ADMIN } role;

typedef struct handle {
    pg_db *db;              /* the store's own connection; NULL in a view or once closed */
    struct handle *parent;  /* a view's store (kept alive through the view's user value) */
    int closed;
    role caller;
    /* On the store that owns the connection: a call is running (its result is
     * being pushed, and the GC may run finalizers meanwhile), and a close asked
     * for by such a finalizer, done when that call ends. */
    int busy, close_pending;
} handle;

/* ---- failures ------------------------------------------------------------- */

static int push_fail(lua_State *L, pg_code code, const char *msg)
{
    lua_pushnil(L);
    lua_pushstring(L, msg);
    lua_pushstring(L, pg_code_name(code));
    return 3;
}

static int push_status(lua_State *L, const pg_status *st)
{
    return push_fail(L, st->code, st->msg);
}

/* ---- Lua -> value tree ------------------------------------------------------ */

typedef struct {
    lua_State *L;
    pg_arena *a;
    size_t budget;
    int array_mt;                    /* stack index of cjson's array metatable, or 0 */
    const void *path[MAX_DEPTH + 2]; /* the tables being read, outermost first */
} reader;

static pg_value *read_value(reader *r, int idx, int depth);

/* One pass over a table: string keys make an object, keys 1..n an array;
 * anything else (other keys, a mix, holes) is a PG_INVALID node. */
static pg_value *read_table(reader *r, int idx, int depth)
{
    lua_State *L = r->L;
    const void *self = lua_topointer(L, idx);
    pg_value *obj, *arr = NULL;
    lua_Number maxkey = 0;
    const char *problem = NULL;
    size_t i;
    int d;
    if (depth > MAX_DEPTH || !lua_checkstack(L, 6))
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
        if (!(e = read_value(r, lua_gettop(L), depth + 1))) {
            lua_pop(L, 2);
            return NULL;
        }
        lua_pop(L, 1);
        if (kt == LUA_TSTRING) {
            size_t klen;
            const char *key = lua_tolstring(L, -1, &klen); /* a string already: no conversion */
            if (!pg_obj_addl(r->a, obj, key, klen, e)) {
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
static pg_value *read_value(reader *r, int idx, int depth)
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
        /* No copy: the string is reachable from the arguments for the whole call. */
        const char *s = lua_tolstring(L, idx, &len);
        return pg_new_string_ref(r->a, s, len);
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

/* Pushes v; array_mt is the stack index of cjson's array metatable, or 0. */
static void push_tree(lua_State *L, const pg_value *v, int array_mt)
{
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
    case PG_STRING: lua_pushlstring(L, v->u.str.s, v->u.str.len); break;
    case PG_ARRAY:
        luaL_checkstack(L, 3, "progallery: result nested too deeply");
        lua_createtable(L, (int)v->u.arr.n, 0);
        for (i = 0; i < v->u.arr.n; i++) {
            push_tree(L, v->u.arr.v[i], array_mt);
            lua_rawseti(L, -2, (int)i + 1);
        }
        if (array_mt) {
            lua_pushvalue(L, array_mt);
            lua_setmetatable(L, -2);
        }
        break;
    case PG_OBJECT:
        luaL_checkstack(L, 3, "progallery: result nested too deeply");
        lua_createtable(L, 0, (int)v->u.obj.n);
        for (i = 0; i < v->u.obj.n; i++) {
            lua_pushlstring(L, v->u.obj.m[i].key, v->u.obj.m[i].keylen);
            push_tree(L, v->u.obj.m[i].val, array_mt);
            lua_rawset(L, -3);
        }
        break;
    default: lua_pushlightuserdata(L, NULL); break;
    }
}

/* Pushes a result. Arrays get cjson's array metatable when the cjson in use
 * has one, so an empty array encodes as [] rather than {}. */
static void push_value(lua_State *L, const pg_value *v)
{
    int mt;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_ARRAY_MT);
    mt = lua_istable(L, -1) ? lua_gettop(L) : 0;
    push_tree(L, v, mt);
    lua_remove(L, -2);
}

/* Raw: a caller's metatable never runs (and so never raises) here. */
static void raw_field(lua_State *L, int idx, const char *key)
{
    lua_pushstring(L, key);
    lua_rawget(L, idx);
}

/* ---- identities and elevation -------------------------------------------------- */

/* "admin" | "member" | "visitor" | { role = ..., id = ... } */
static int read_identity(lua_State *L, int idx, role *out, pg_status *st)
{
    static const char *const names[] = { "visitor", "member", "admin" };
    const char *s = NULL;
    int i, t = lua_type(L, idx);
    if (t == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
            int bad_id = k && strcmp(k, "id") == 0 && lua_type(L, -1) != LUA_TSTRING
                         && lua_type(L, -1) != LUA_TNUMBER;
            lua_pop(L, 1);
            if (!k || (strcmp(k, "role") != 0 && strcmp(k, "id") != 0) || bad_id) {
                lua_pop(L, 1);
                return pg_fail(st, PG_INVALID_ARGUMENT,
                               bad_id ? "caller.id: expected a string"
                                      : "caller: only the keys role and id are allowed");
            }
        }
        raw_field(L, idx, "role");
        if (lua_type(L, -1) == LUA_TSTRING)
            s = lua_tostring(L, -1);
        lua_pop(L, 1); /* the string stays alive in the table */
    } else if (t == LUA_TSTRING) {
        s = lua_tostring(L, idx);
    }
    for (i = 0; s && i < 3; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (role)i;
            return 1;
        }
    }
    return pg_fail(st, PG_INVALID_ARGUMENT,
                   "caller: expected \"admin\", \"member\", \"visitor\" or {role=..., id=...}");
}

/* Elevation depth of the running coroutine (weak-keyed registry table). */
static lua_Integer elevation(lua_State *L)
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
    set_elevation(L, elevation(L) + 1);
    return 0;
}

/* leave(ok, ...): ends one level of elevation, then returns or rethrows. */
static int elevate_leave(lua_State *L)
{
    set_elevation(L, elevation(L) - 1);
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

static void push_elevate(lua_State *L)
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

/* ---- stores ------------------------------------------------------------------ */

static handle *owner_of(handle *h)
{
    return h->parent ? h->parent : h;
}

static pg_db *handle_db(handle *h)
{
    handle *o = owner_of(h);
    if (h->closed || o->closed)
        return NULL;
    return o->db;
}

static handle *new_handle(lua_State *L)
{
    handle *h = lua_newuserdatauv(L, sizeof *h, 1);
    memset(h, 0, sizeof *h); /* closed until the connection exists */
    h->closed = 1;
    luaL_getmetatable(L, STORE_MT);
    lua_setmetatable(L, -2);
    return h;
}

static void close_handle(handle *h)
{
    h->closed = 1;
    if (h->parent || !h->db)
        return;
    if (h->busy) {
        h->close_pending = 1; /* a finalizer, during a call on this store */
        return;
    }
    pg_db_close(h->db);
    h->db = NULL;
}

/* Ends a call: the arena is free again, and a close asked for meanwhile happens. */
static void end_call(handle *o, pg_db *db)
{
    pg_arena_reset(pg_db_arena(db));
    o->busy = 0;
    if (o->close_pending) {
        o->close_pending = 0;
        close_handle(o);
    }
}

static int opt_field(lua_State *L, int idx, const char *key)
{
    raw_field(L, idx, key);
    return !lua_isnil(L, -1) && !(lua_islightuserdata(L, -1) && !lua_touserdata(L, -1));
}

/* A file name: a non-empty string without NUL bytes ("" would be SQLite's
 * anonymous temporary database, and a NUL would cut the name short). */
static int valid_path(lua_State *L, int idx, const char **path, pg_status *st)
{
    size_t len;
    const char *p = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, &len) : NULL;
    if (!p || len == 0 || strlen(p) != len)
        return pg_fail(st, PG_INVALID_ARGUMENT, "path: expected a non-empty file name");
    *path = p;
    return 1;
}

/* Reads open()'s options into o and *caller. */
static int read_open_options(lua_State *L, int idx, pg_open_opts *o, role *caller, pg_status *st)
{
    static const char *const known[] = { "path", "caller", "busyTimeout", "synchronous",
                                         "readonly", NULL };
    const char *env = getenv("PROGALLERY_DB");
    o->path = env && *env ? env : "progallery.db";
    o->busy_timeout_ms = 5000;
    o->synchronous_full = 1;
    o->readonly = 0;
    *caller = ROLE_VISITOR;
    if (lua_type(L, idx) == LUA_TSTRING) {
        if (!valid_path(L, idx, &o->path, st))
            return 0;
    } else if (lua_type(L, idx) == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
            int i, ok = 0;
            for (i = 0; k && known[i] && !ok; i++)
                ok = strcmp(k, known[i]) == 0;
            lua_pop(L, 1);
            if (!ok) {
                lua_pop(L, 1);
                return pg_fail(st, PG_INVALID_ARGUMENT, "%s: unknown option",
                               k ? k : "(a key that is not a string)");
            }
        }
        if (opt_field(L, idx, "path") && !valid_path(L, lua_gettop(L), &o->path, st))
            return 0; /* the path string stays anchored by the options table */
        lua_pop(L, 1);
        if (opt_field(L, idx, "caller") && !read_identity(L, lua_gettop(L), caller, st))
            return 0;
        lua_pop(L, 1);
        if (opt_field(L, idx, "busyTimeout")) {
            lua_Number n = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : -1;
            if (!(n >= 0 && n <= INT_MAX && n == (lua_Number)(int)n))
                return pg_fail(st, PG_INVALID_ARGUMENT,
                               "busyTimeout: expected an integer number of ms >= 0");
            o->busy_timeout_ms = (int)n;
        }
        lua_pop(L, 1);
        if (opt_field(L, idx, "synchronous")) {
            const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
            if (strcmp(s, "full") != 0 && strcmp(s, "normal") != 0)
                return pg_fail(st, PG_INVALID_ARGUMENT, "synchronous: expected \"full\" or \"normal\"");
            o->synchronous_full = strcmp(s, "full") == 0;
        }
        lua_pop(L, 1);
        if (opt_field(L, idx, "readonly")) {
            if (lua_type(L, -1) != LUA_TBOOLEAN)
                return pg_fail(st, PG_INVALID_ARGUMENT, "readonly: expected a boolean");
            o->readonly = lua_toboolean(L, -1);
        }
        lua_pop(L, 1);
    } else if (!lua_isnoneornil(L, idx)) {
        return pg_fail(st, PG_INVALID_ARGUMENT, "options: expected a table or a path string");
    }
    return 1;
}

static int l_open(lua_State *L)
{
    pg_open_opts o;
    pg_status st;
    role caller;
    handle *h;
    lua_settop(L, 1);
    if (!read_open_options(L, 1, &o, &caller, &st))
        return push_status(L, &st);
    h = new_handle(L);
    if (!pg_db_open(&o, &h->db, &st))
        return push_status(L, &st);
    h->closed = 0;
    h->caller = caller;
    return 1;
}

static handle *to_handle(lua_State *L, int idx)
{
    return (handle *)luaL_testudata(L, idx, STORE_MT);
}

static int l_close(lua_State *L)
{
    handle *h = to_handle(L, 1);
    if (!h)
        return push_fail(L, PG_INVALID_ARGUMENT, "self: expected a progallery store");
    close_handle(h);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_gc(lua_State *L)
{
    handle *h = to_handle(L, 1);
    if (h)
        close_handle(h);
    return 0;
}

static int l_tostring(lua_State *L)
{
    static const char *const names[] = { "visitor", "member", "admin" };
    handle *h = to_handle(L, 1);
    if (!h || !handle_db(h))
        lua_pushstring(L, "progallery.store (closed)");
    else
        lua_pushfstring(L, "progallery.store%s (%s): %p", h->parent ? " view" : "",
                        names[h->caller], (void *)h);
    return 1;
}

static int l_as(lua_State *L)
{
    handle *h = to_handle(L, 1), *v;
    pg_status st;
    role caller;
    if (!h)
        return push_fail(L, PG_INVALID_ARGUMENT, "self: expected a progallery store");
    if (!handle_db(h))
        return push_fail(L, PG_FAILED_PRECONDITION, "store is closed");
    lua_settop(L, 2);
    if (!read_identity(L, 2, &caller, &st))
        return push_status(L, &st);
    v = new_handle(L);
    v->parent = h->parent ? h->parent : h;
    v->caller = caller;
    v->closed = 0;
    /* The view keeps self alive, and self (a store, or a view holding its
     * store) keeps the connection's owner alive. */
    pg_setparent(L, lua_gettop(L), 1);
    return 1;
}

/* store:dataVersion() -> a number that changes whenever a commit (by this
 * store or any other connection to the file) may have changed the data. */
static int l_data_version(lua_State *L)
{
    handle *h = to_handle(L, 1);
    pg_db *db = h ? handle_db(h) : NULL;
    pg_status st;
    int64_t v;
    if (!h)
        return push_fail(L, PG_INVALID_ARGUMENT, "self: expected a progallery store");
    if (!db)
        return push_fail(L, PG_FAILED_PRECONDITION, "store is closed");
    if (!pg_db_data_version(db, &v, &st))
        return push_status(L, &st);
    lua_pushinteger(L, (lua_Integer)v);
    return 1;
}

/* ---- the API dispatcher ---------------------------------------------------------- */

static int call_api(lua_State *L, handle *h, int first_arg)
{
    const pg_api_entry *e = &pg_api[lua_tointeger(L, lua_upvalueindex(1))];
    pg_value *args[4] = { NULL, NULL, NULL, NULL }, *result;
    reader r;
    pg_status st;
    pg_db *db = handle_db(h);
    handle *o = owner_of(h);
    int i;
    if (!db)
        return push_fail(L, PG_FAILED_PRECONDITION, "store is closed");
    if (o->busy) /* the GC ran a finalizer that calls this store during a call on it */
        return push_fail(L, PG_FAILED_PRECONDITION, "store is busy with another call (from a finalizer?)");
    if (e->writes && h->caller != ROLE_ADMIN && elevation(L) <= 0)
        return push_fail(L, PG_PERMISSION_DENIED,
                         "permission denied: writes need the admin identity or elevate()");
    if (e->writes && pg_db_readonly(db))
        return push_fail(L, PG_FAILED_PRECONDITION, "store is read-only");
    r.L = L;
    r.a = pg_db_arena(db);
    r.budget = MAX_NODES;
    r.array_mt = 0;
    pg_arena_reset(r.a);
    o->busy = 1;
    lua_settop(L, first_arg + e->nargs - 1); /* trailing extra arguments are ignored */
    st.code = PG_OK;
    st.msg[0] = '\0';
    for (i = 0; i < e->nargs; i++) {
        int idx = first_arg + i;
        if (!lua_isnil(L, idx) && !(args[i] = read_value(&r, idx, 1)))
            pg_fail(&st, PG_INTERNAL, "out of memory");
    }
    result = st.code == PG_OK ? e->fn(db, args, &st) : NULL;
    if (!result) {
        end_call(o, db); /* the status lives on the C stack, not in the arena */
        return push_status(L, &st);
    }
    push_value(L, result);
    end_call(o, db);
    return 1;
}

static int l_method(lua_State *L)
{
    handle *h = to_handle(L, 1);
    if (!h)
        return push_fail(L, PG_INVALID_ARGUMENT, "self: expected a progallery store");
    return call_api(L, h, 2);
}

/* Module-level functions act on a default store, opened on first use. */
static int l_module_fn(lua_State *L)
{
    handle *h;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_DEFAULT);
    h = to_handle(L, -1);
    lua_pop(L, 1); /* the registry keeps it alive */
    if (!h || !handle_db(h)) {
        pg_open_opts o;
        pg_status st;
        role caller;
        lua_pushnil(L);
        read_open_options(L, lua_gettop(L), &o, &caller, &st);
        lua_pop(L, 1);
        h = new_handle(L);
        if (!pg_db_open(&o, &h->db, &st))
            return push_status(L, &st);
        h->closed = 0;
        h->caller = caller;
        lua_setfield(L, LUA_REGISTRYINDEX, REG_DEFAULT);
    }
    return call_api(L, h, 1);
}

/* ---- JSON for progallery.http ------------------------------------------------------ */

/* Lua cannot tell an empty array from an empty object: an empty table under a
 * key of the set at index `keys` becomes [], except inside members named in
 * the set at `opaque` (free-form user data). Returns a problem, or NULL. */
static const char *settle_arrays(lua_State *L, pg_value *v, int keys, int opaque)
{
    size_t i;
    const char *problem = NULL;
    if (v->type == PG_INVALID)
        return v->u.str.s;
    if (v->type == PG_ARRAY)
        for (i = 0; i < v->u.arr.n && !problem; i++)
            problem = settle_arrays(L, v->u.arr.v[i], keys, opaque);
    if (v->type != PG_OBJECT)
        return problem;
    for (i = 0; i < v->u.obj.n && !problem; i++) {
        pg_member *m = &v->u.obj.m[i];
        int skip = 0;
        if (m->val->type != PG_OBJECT && m->val->type != PG_ARRAY) {
            if (m->val->type == PG_INVALID)
                problem = m->val->u.str.s;
            continue; /* scalars need no key lookups */
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

/* The encoder's scratch arena lives in a userdata, so that it is freed with the
 * module, or, for a temporary one, by the GC even if a Lua error interrupts. */
typedef struct {
    pg_arena *a;
    int busy; /* an encode is running (a finalizer may call encodeJSON meanwhile) */
} arena_box;

static int l_arena_gc(lua_State *L)
{
    arena_box *b = lua_touserdata(L, 1);
    pg_arena_free(b->a);
    b->a = NULL;
    return 0;
}

static arena_box *push_arena_box(lua_State *L)
{
    arena_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->a = NULL;
    b->busy = 0;
    if (luaL_newmetatable(L, "progallery.arena")) {
        lua_pushcfunction(L, l_arena_gc);
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
    arena_box *box = lua_touserdata(L, lua_upvalueindex(1));
    reader r;
    pg_value *v;
    const char *text, *problem;
    size_t len;
    int keys = lua_istable(L, 2) ? 2 : 0, opaque = lua_istable(L, 3) ? 3 : 0;
    lua_settop(L, 3);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_ARRAY_MT);
    if (box->busy) /* called from a finalizer during an encode: a scratch arena of its own */
        box = push_arena_box(L);
    r.L = L;
    r.a = box->a;
    r.budget = MAX_NODES;
    r.array_mt = lua_istable(L, 4) ? 4 : 0;
    pg_arena_reset(box->a);
    box->busy = 1;
    if (!(v = read_value(&r, 1, 1)))
        problem = "out of memory";
    else
        problem = settle_arrays(L, v, keys, opaque);
    text = problem ? NULL : pg_json_encode(box->a, v, &len);
    if (text)
        lua_pushlstring(L, text, len);
    pg_arena_reset(box->a);
    box->busy = 0;
    if (problem)
        return lua_pushnil(L), lua_pushfstring(L, "json: cannot encode this value: %s", problem),
               lua_pushliteral(L, "INVALID_ARGUMENT"), 3;
    if (!text)
        return push_fail(L, PG_INTERNAL, "out of memory");
    return 1;
}

static void push_encoder(lua_State *L)
{
    push_arena_box(L);
    lua_pushcclosure(L, l_encode_json, 1);
}

/* ---- module ------------------------------------------------------------------ */

static void set_api_functions(lua_State *L, lua_CFunction f)
{
    int i;
    for (i = 0; i < pg_api_count; i++) {
        lua_pushinteger(L, i);
        lua_pushcclosure(L, f, 1);
        lua_setfield(L, -2, pg_api[i].name);
    }
}

/* Uses cjson's array metatable when the cjson present has one (OpenResty's). */
static void find_array_mt(lua_State *L)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson");
    if (lua_pcall(L, 1, 1, 0) == 0 && lua_istable(L, -1)) {
        lua_getfield(L, -1, "array_mt");
        if (!lua_istable(L, -1)) {
            lua_pop(L, 1);
            lua_getfield(L, -1, "empty_array_mt");
        }
        if (lua_istable(L, -1))
            lua_setfield(L, LUA_REGISTRYINDEX, REG_ARRAY_MT);
        else
            lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static const luaL_Reg store_meta[] = {
    { "__gc", l_gc },
#if LUA_VERSION_NUM >= 504
    { "__close", l_gc },
#endif
    { "__tostring", l_tostring },
    { NULL, NULL },
};

static const luaL_Reg store_methods[] = {
    { "close", l_close },
    { "as", l_as },
    { "dataVersion", l_data_version },
    { NULL, NULL },
};

int luaopen_progallery(lua_State *L)
{
    if (luaL_newmetatable(L, STORE_MT)) {
        luaL_setfuncs(L, store_meta, 0);
        lua_pushliteral(L, STORE_MT);
        lua_setfield(L, -2, "__name"); /* LuaJIT does not set it */
        lua_createtable(L, 0, pg_api_count + 2);
        luaL_setfuncs(L, store_methods, 0);
        set_api_functions(L, l_method);
        lua_setfield(L, -2, "__index");
        lua_pushliteral(L, "progallery.store is locked");
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);

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
    find_array_mt(L);

    lua_createtable(L, 0, pg_api_count + 4);
    set_api_functions(L, l_module_fn);
    lua_pushcfunction(L, l_open);
    lua_setfield(L, -2, "open");
    push_elevate(L);
    lua_setfield(L, -2, "elevate");
    push_encoder(L);
    lua_setfield(L, -2, "encodeJSON");
    lua_pushlightuserdata(L, NULL); /* == cjson.null == ngx.null */
    lua_setfield(L, -2, "null");
    lua_pushliteral(L, PG_VERSION);
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
