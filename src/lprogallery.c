/* Lua binding of progallery: the module and its stores. Marshalling between
 * Lua and the core is in lua_value.c, identities and elevation in lua_auth.c,
 * encodeJSON in lua_json.c. Results come back as Lua tables, failures as
 * nil, message, code. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "rest.h"
#include "lua_binding.h"
#include "utf8.h"

#ifndef PG_VERSION
#error "PG_VERSION comes from lua/progallery/version.lua (build with the Makefile)"
#endif
/* The one symbol the module exports (the Makefile hides the rest). */
#if defined(__GNUC__)
#define PG_EXPORT __attribute__((visibility("default")))
#else
#define PG_EXPORT
#endif
#define STORE_MT "progallery.store"
#define REG_DEFAULT "progallery.default"

/* An identity's id ({ role = ..., id = ... }): who the events say made a change. */
typedef struct {
    char s[PG_ACTOR_ID_MAX + 1];
    size_t len;
    int has;
} caller_id;

typedef struct handle {
    pg_db *db;              /* the store's own connection; NULL in a view or once closed */
    struct handle *parent;  /* a view's store (kept alive through the view's user value) */
    int closed;
    pg_role caller;
    caller_id cid;
    /* On the store that owns the connection: a call is running (its result is
     * being pushed, and the GC may run finalizers meanwhile), and a close asked
     * for by such a finalizer, done when that call ends. */
    int busy, close_pending;
} handle;

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

/* A handle's user values: its parent (a view's store, kept alive by the view)
 * and the string table of its calls (UV_REFS), made here, so that a call
 * allocates no Lua memory before it has read its arguments: no finalizer can
 * run, and change them, while they are read. */
#define UV_PARENT 1
#define UV_REFS 2
#define REFS_KEPT 1024 /* a string table that held more is replaced after the call */

static handle *new_handle(lua_State *L)
{
    handle *h = pg_newuserdata(L, sizeof *h, 2);
    memset(h, 0, sizeof *h); /* closed until the connection exists */
    h->closed = 1;
    luaL_getmetatable(L, STORE_MT);
    lua_setmetatable(L, -2);
    lua_createtable(L, 16, 0);
    pg_setuv(L, lua_gettop(L) - 1, UV_REFS);
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

/* The id of the identity at idx (a table's id), into *out. */
static int read_caller_id(lua_State *L, int idx, caller_id *out, pg_status *st)
{
    const char *s;
    size_t len;
    out->has = 0;
    out->len = 0;
    out->s[0] = '\0';
    if (lua_type(L, idx) != LUA_TTABLE)
        return 1;
    pg_lua_raw_field(L, idx, "id");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 1;
    }
    s = lua_tolstring(L, -1, &len); /* a string or a number (pg_lua_identity checked) */
    if (!s || len > PG_ACTOR_ID_MAX || pg_utf8_problem(s, len)) {
        lua_pop(L, 1);
        return pg_fail(st, PG_INVALID_ARGUMENT, "caller.id: expected UTF-8 text of at most %d bytes",
                       PG_ACTOR_ID_MAX);
    }
    memcpy(out->s, s, len);
    out->s[len] = '\0';
    out->len = len;
    out->has = 1;
    lua_pop(L, 1);
    return 1;
}

static int opt_field(lua_State *L, int idx, const char *key)
{
    pg_lua_raw_field(L, idx, key);
    return !lua_isnil(L, -1) && !(lua_islightuserdata(L, -1) && !lua_touserdata(L, -1));
}

/* options[key], when given: an integer number of ms >= 0, into *out. 1 when given, 0 when
 * absent, -1 (st set) when it is something else; the stack as it was. */
static int ms_option(lua_State *L, int idx, const char *key, int *out, pg_status *st)
{
    int given = opt_field(L, idx, key);
    lua_Number n = given && lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : -1;
    lua_pop(L, 1);
    if (!given)
        return 0;
    if (!(n >= 0 && n <= INT_MAX && n == (lua_Number)(int)n))
        return pg_fail(st, PG_INVALID_ARGUMENT, "%s: expected an integer number of ms >= 0", key), -1;
    *out = (int)n;
    return 1;
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

static int is_pg_uri(const char *p)
{
    return strncmp(p, "postgresql://", 13) == 0 || strncmp(p, "postgres://", 11) == 0;
}

/* Reads open()'s options into o and *caller. Pushes one value, the path or dsn
 * string or nil, which keeps it alive while the caller's table may let go of it
 * (a finalizer that runs on the next allocation may clear the table). */
static int read_open_options(lua_State *L, int idx, pg_open_opts *o, pg_role *caller,
                             caller_id *cid, pg_status *st)
{
    int anchor;
    lua_pushnil(L);
    anchor = lua_gettop(L);
    static const char *const known[] = { "path", "caller", "busyTimeout", "synchronous",
                                         "readonly", "eventRetention", "events", "engine", "dsn",
                                         "connectTimeout", "statementTimeout", NULL };
    const char *env = getenv("PROGALLERY_DB");
    int pg_only = 0, given; /* pg_only: an option only PostgreSQL takes, by name (for the message) */
    const char *pg_only_name = NULL;
    memset(o, 0, sizeof *o);
    o->sqlite.path = env && *env ? env : "progallery.db";
    o->postgres.connect_timeout_ms = 5000;
    o->busy_timeout_ms = 5000;
    o->synchronous_full = 1;
    o->readonly = 0;
    o->event_retention_ms = (int64_t)7 * 24 * 3600 * 1000;
    o->events_off = 0;
    *caller = ROLE_VISITOR;
    cid->has = 0;
    cid->len = 0;
    if (lua_type(L, idx) == LUA_TSTRING) {
        if (!valid_path(L, idx, &o->sqlite.path, st))
            return 0;
        if (is_pg_uri(o->sqlite.path)) {
            o->engine = "postgres";
            o->postgres.dsn = o->sqlite.path;
        }
        lua_pushvalue(L, idx);
        lua_replace(L, anchor);
    } else if (lua_type(L, idx) == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            size_t klen = 0;
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &klen) : NULL;
            int i, ok = 0;
            for (i = 0; k && known[i] && !ok; i++)
                ok = strlen(known[i]) == klen && memcmp(k, known[i], klen) == 0;
            lua_pop(L, 1);
            if (!ok) {
                if (!k)
                    return lua_pop(L, 1), pg_fail(st, PG_INVALID_ARGUMENT,
                                                  "(a key that is not a string): unknown option");
                pg_fail_name(st, PG_INVALID_ARGUMENT, k, klen, "unknown option");
                lua_pop(L, 1);
                return 0;
            }
        }
        if (opt_field(L, idx, "path")) {
            if (!valid_path(L, lua_gettop(L), &o->sqlite.path, st))
                return 0;
            if (is_pg_uri(o->sqlite.path)) {
                o->engine = "postgres";
                o->postgres.dsn = o->sqlite.path;
            }
            lua_pushvalue(L, -1);
            lua_replace(L, anchor);
        }
        lua_pop(L, 1);
        /* dsn takes the anchor: a store has a path or a dsn, never both (refused below) */
        if (opt_field(L, idx, "dsn")) {
            size_t len;
            const char *d = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
            if (!d || len == 0 || strlen(d) != len)
                return pg_fail(st, PG_INVALID_ARGUMENT,
                               "dsn: expected a libpq connection string or a postgresql:// URI");
            if (o->postgres.dsn)
                return pg_fail(st, PG_INVALID_ARGUMENT, "dsn: a PostgreSQL path is given too");
            o->engine = "postgres";
            o->postgres.dsn = d;
            lua_pushvalue(L, -1);
            lua_replace(L, anchor);
        }
        lua_pop(L, 1);
        if (opt_field(L, idx, "engine")) {
            const char *e = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
            if (strcmp(e, "sqlite") != 0 && strcmp(e, "postgres") != 0)
                return pg_fail(st, PG_INVALID_ARGUMENT, "engine: expected \"sqlite\" or \"postgres\"");
            if (o->engine && strcmp(e, o->engine) != 0)
                return pg_fail(st, PG_INVALID_ARGUMENT, "engine: \"%s\" with a PostgreSQL dsn", e);
            o->engine = strcmp(e, "sqlite") == 0 ? NULL : "postgres";
        }
        lua_pop(L, 1);
        if ((given = ms_option(L, idx, "connectTimeout", &o->postgres.connect_timeout_ms, st)) < 0)
            return 0;
        if (given)
            pg_only = 1, pg_only_name = "connectTimeout";
        if ((given = ms_option(L, idx, "statementTimeout", &o->postgres.statement_timeout_ms, st)) < 0)
            return 0;
        if (given)
            pg_only = 1, pg_only_name = "statementTimeout";
        if (o->engine && !o->postgres.dsn)
            return pg_fail(st, PG_INVALID_ARGUMENT, "dsn: required by engine \"postgres\"");
        if (opt_field(L, idx, "path") && o->engine && !is_pg_uri(o->sqlite.path))
            return lua_pop(L, 1), pg_fail(st, PG_INVALID_ARGUMENT,
                                          "path: a SQLite file; a PostgreSQL store takes dsn");
        lua_pop(L, 1);
        if (!o->engine && pg_only)
            return pg_fail(st, PG_INVALID_ARGUMENT, "%s: a PostgreSQL option (this store is SQLite)",
                           pg_only_name);
        if (opt_field(L, idx, "caller")
            && (!pg_lua_identity(L, lua_gettop(L), caller, st)
                || !read_caller_id(L, lua_gettop(L), cid, st)))
            return 0;
        lua_pop(L, 1);
        if (ms_option(L, idx, "busyTimeout", &o->busy_timeout_ms, st) < 0)
            return 0;
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
        if (opt_field(L, idx, "eventRetention")) {
            lua_Number n = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : -1;
            if (!(n >= 0 && n <= 9007199254740992.0 && n == (lua_Number)(int64_t)n))
                return pg_fail(st, PG_INVALID_ARGUMENT,
                               "eventRetention: expected an integer number of ms >= 0");
            o->event_retention_ms = (int64_t)n;
        }
        lua_pop(L, 1);
        if (opt_field(L, idx, "events")) {
            if (lua_type(L, -1) != LUA_TBOOLEAN)
                return pg_fail(st, PG_INVALID_ARGUMENT, "events: expected a boolean");
            o->events_off = !lua_toboolean(L, -1);
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
    pg_role caller;
    caller_id cid;
    handle *h;
    lua_settop(L, 1);
    if (!read_open_options(L, 1, &o, &caller, &cid, &st))
        return pg_lua_status(L, &st);
    h = new_handle(L);
    if (!pg_db_open(&o, &h->db, &st))
        return pg_lua_status(L, &st);
    h->closed = 0;
    h->caller = caller;
    h->cid = cid;
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
        return pg_lua_fail(L, PG_INVALID_ARGUMENT, "self: expected a progallery store");
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
    handle *h = to_handle(L, 1);
    if (!h || !handle_db(h))
        lua_pushstring(L, "progallery.store (closed)");
    else
        lua_pushfstring(L, "progallery.store%s (%s): %p", h->parent ? " view" : "",
                        pg_role_names[h->caller], (void *)h);
    return 1;
}

static int l_as(lua_State *L)
{
    handle *h = to_handle(L, 1), *v;
    pg_status st;
    pg_role caller;
    caller_id cid;
    if (!h)
        return pg_lua_fail(L, PG_INVALID_ARGUMENT, "self: expected a progallery store");
    if (!handle_db(h))
        return pg_lua_fail(L, PG_FAILED_PRECONDITION, "store is closed");
    lua_settop(L, 2);
    if (!pg_lua_identity(L, 2, &caller, &st) || !read_caller_id(L, 2, &cid, &st))
        return pg_lua_status(L, &st);
    v = new_handle(L);
    v->parent = h->parent ? h->parent : h;
    v->caller = caller;
    v->cid = cid;
    v->closed = 0;
    /* The view keeps self alive, and self (a store, or a view holding its
     * store) keeps the connection's owner alive. */
    lua_pushvalue(L, 1);
    pg_setuv(L, lua_gettop(L) - 1, UV_PARENT);
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
        return pg_lua_fail(L, PG_INVALID_ARGUMENT, "self: expected a progallery store");
    if (!db)
        return pg_lua_fail(L, PG_FAILED_PRECONDITION, "store is closed");
    if (!pg_db_data_version(db, &v, &st))
        return pg_lua_status(L, &st);
    lua_pushinteger(L, (lua_Integer)v);
    return 1;
}

/* progallery.escapeKey(s) -> s as the core's messages name a caller's key:
 * valid UTF-8 unchanged, a backslash doubled, control characters and bytes
 * that are not UTF-8 as \xHH. For messages made outside the core
 * (progallery.http), so that every message is valid UTF-8. */
static int l_escape_key(lua_State *L)
{
    size_t n, i = 0, used;
    const char *s = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &n) : NULL;
    char e[PG_ESCAPE_MAX];
    luaL_Buffer b;
    if (!s)
        return pg_lua_fail(L, PG_INVALID_ARGUMENT, "s: expected a string");
    luaL_buffinit(L, &b);
    while (i < n) {
        luaL_addlstring(&b, e, pg_escape_char(s + i, n - i, e, &used));
        i += used;
    }
    luaL_pushresult(&b);
    return 1;
}

/* The checks before any call on h: open, not inside another call on its
 * connection (a finalizer), and the right to write (or to read the feed). */
static int call_refused(lua_State *L, handle *h, pg_db *db, int writes)
{
    if (!db)
        return pg_lua_fail(L, PG_FAILED_PRECONDITION, "store is closed");
    if (owner_of(h)->busy) /* the GC ran a finalizer that calls this store during a call on it */
        return pg_lua_fail(L, PG_FAILED_PRECONDITION, "store is busy with another call (from a finalizer?)");
    if (writes && h->caller != ROLE_ADMIN && !pg_lua_elevated(L))
        return pg_lua_fail(L, PG_PERMISSION_DENIED,
                           writes == PG_NEEDS_PRIVILEGE
                               ? "permission denied: the event feed needs the admin identity or elevate()"
                               : "permission denied: writes need the admin identity or elevate()");
    if (writes == 1 && pg_db_readonly(db))
        return pg_lua_fail(L, PG_FAILED_PRECONDITION, "store is read-only");
    return 0;
}

/* Who the events of the next write say made the change. */
static void set_actor(handle *h, pg_db *db)
{
    pg_db_set_actor(db,
                    h->caller == ROLE_ADMIN    ? PG_ACTOR_WIX_USER
                    : h->caller == ROLE_MEMBER ? PG_ACTOR_MEMBER : PG_ACTOR_VISITOR,
                    h->cid.has ? h->cid.s : NULL, h->cid.len);
}

/* ---- the API dispatcher ---------------------------------------------------------- */

typedef struct {
    const pg_api_entry *e;
    pg_db *db;
    pg_status st;
    int nrefs; /* strings put into the handle's string table */
} call_ctx;

/* run_call(ctx, refs, args...): reads the arguments, runs the operation and
 * pushes its result, or returns nothing with ctx->st set. Reading allocates no
 * Lua memory (strings are copied into the arena, or anchored in refs for a
 * write, whose result echoes them); pushing does, and so may raise a memory
 * error and run finalizers: call_api runs this under lua_pcall so that the
 * call still ends cleanly. No transaction is open when it can raise: the
 * operation has committed or rolled back by then. */
static int run_call(lua_State *L)
{
    call_ctx *c = lua_touserdata(L, 1);
    const pg_api_entry *e = c->e;
    pg_value *args[4] = { NULL, NULL, NULL, NULL }, *result;
    pg_reader r;
    int i;
    r.L = L;
    r.a = pg_db_arena(c->db);
    r.budget = PG_LUA_MAX_NODES;
    r.array_mt = 0;
    r.refs = e->writes ? 2 : 0;
    r.nrefs = 0;
    for (i = 0; i < e->nargs; i++) {
        int idx = 3 + i;
        if (!lua_isnil(L, idx) && !(args[i] = pg_lua_read(&r, idx, 1))) {
            c->nrefs = r.nrefs;
            return pg_fail(&c->st, PG_INTERNAL, "out of memory");
        }
    }
    c->nrefs = r.nrefs;
    if (!(result = e->fn(c->db, args, &c->st)) || !pg_velo_result(r.a, result, &c->st))
        return 0;
    pg_lua_push(L, result, r.refs);
    return 1;
}

/* Empties the handle's string table after a call, or replaces a big one. */
static void clear_refs(lua_State *L, int hidx, int n)
{
    int i;
    if (n > REFS_KEPT) {
        lua_createtable(L, 16, 0);
        pg_setuv(L, hidx, UV_REFS);
        return;
    }
    pg_getuv(L, hidx, UV_REFS);
    for (i = 1; i <= n; i++) {
        lua_pushnil(L);
        lua_rawseti(L, -2, i);
    }
    lua_pop(L, 1);
}

/* Calls the API function of upvalue 1 on the handle h at stack index hidx,
 * with its arguments from first_arg on. */
static int call_api(lua_State *L, handle *h, int hidx, int first_arg)
{
    call_ctx c;
    handle *o = owner_of(h);
    int i, rc;
    c.e = (const pg_api_entry *)lua_touserdata(L, lua_upvalueindex(1));
    c.db = handle_db(h);
    c.nrefs = 0;
    if ((rc = call_refused(L, h, c.db, c.e->writes)))
        return rc;
    if (c.e->writes)
        set_actor(h, c.db);
    /* grown now, without a GC step: the call into run_call must not need to */
    if (!lua_checkstack(L, LUA_MINSTACK + 2 * c.e->nargs + 8))
        return pg_lua_fail(L, PG_INTERNAL, "out of memory (Lua stack)");
    c.st.code = PG_OK;
    c.st.msg[0] = '\0';
    pg_arena_reset(pg_db_arena(c.db));
    o->busy = 1;
    lua_settop(L, first_arg + c.e->nargs - 1); /* trailing extra arguments are ignored */
    lua_pushvalue(L, lua_upvalueindex(2));      /* run_call */
    lua_pushlightuserdata(L, &c);
    pg_getuv(L, hidx, UV_REFS);
    for (i = 0; i < c.e->nargs; i++)
        lua_pushvalue(L, first_arg + i);
    rc = lua_pcall(L, 2 + c.e->nargs, 1, 0);
    end_call(o, c.db); /* the status lives on the C stack, not in the arena */
    if (rc != 0) {
        const char *msg = lua_tostring(L, -1);
        clear_refs(L, hidx, c.nrefs);
        return pg_lua_fail(L, PG_INTERNAL, msg ? msg : "error while converting values");
    }
    clear_refs(L, hidx, c.nrefs);
    if (c.st.code != PG_OK)
        return pg_lua_status(L, &c.st);
    return 1;
}

static const char *opt_text(lua_State *L, int idx, size_t *len)
{
    *len = 0;
    return lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, len) : NULL;
}

/* store:rest(op, galleryId, itemId, options, body, ifMatch) -> response JSON text and
 * the revision of the gallery or item it is about (its ETag's digits, or nil), or
 * nil, message, code, field (the REST field path the message starts with, or
 * nil). The REST path of progallery.http: body text in, response text out,
 * no Lua table for the gallery data on the way (rest.h). */
static int l_rest(lua_State *L)
{
    handle *h = to_handle(L, 1), *o;
    pg_rest_request req;
    const pg_api_entry *e;
    pg_status st;
    pg_db *db;
    pg_reader r;
    int i, ok, refused;
    int64_t revision = 0;
    if (!h)
        return pg_lua_fail(L, PG_INVALID_ARGUMENT, "self: expected a progallery store");
    lua_settop(L, 7);
    for (i = 2; i <= 7; i++)
        if (i != 5 && !lua_isnil(L, i) && lua_type(L, i) != LUA_TSTRING)
            return pg_lua_fail(L, PG_INVALID_ARGUMENT, i == 2 ? "op: expected a string"
                               : i == 3 ? "galleryId: expected a string"
                               : i == 4 ? "itemId: expected a string"
                               : i == 6 ? "body: expected JSON text" : "ifMatch: expected a string");
    memset(&req, 0, sizeof req);
    req.op = opt_text(L, 2, &req.oplen);
    if (!req.op || !(e = pg_rest_entry(req.op, req.oplen)))
        return pg_lua_fail(L, PG_NOT_FOUND, "no such route");
    db = handle_db(h);
    if ((refused = call_refused(L, h, db, e->writes)))
        return refused;
    if (e->writes)
        set_actor(h, db);
    o = owner_of(h);
    req.gallery_id = opt_text(L, 3, &req.gallery_id_len);
    req.item_id = opt_text(L, 4, &req.item_id_len);
    req.body = opt_text(L, 6, &req.bodylen);
    req.if_match = opt_text(L, 7, &req.if_match_len);
    st.code = PG_OK;
    st.msg[0] = '\0';
    st.fieldlen = 0;
    pg_arena_reset(pg_db_arena(db));
    o->busy = 1;
    r.L = L;
    r.a = pg_db_arena(db);
    r.budget = PG_LUA_MAX_NODES;
    r.array_mt = 0;
    r.refs = 0;
    r.nrefs = 0;
    ok = 1;
    if (!lua_isnil(L, 5) && !(req.options = pg_lua_read(&r, 5, 1)))
        ok = pg_fail(&st, PG_INTERNAL, "out of memory");
    ok = ok && pg_rest_call(db, &req, pg_db_out(db), &revision, &st);
    end_call(o, db);
    if (!ok) {
        pg_lua_status(L, &st);
        if (st.fieldlen)
            lua_pushlstring(L, st.msg, st.fieldlen);
        else
            lua_pushnil(L);
        return 4;
    }
    lua_pushlstring(L, pg_db_out(db)->buf, pg_db_out(db)->len);
    if (revision <= 0)
        return 1;
    {
        char text[24];
        snprintf(text, sizeof text, "%lld", (long long)revision);
        lua_pushstring(L, text);
    }
    return 2;
}

static int l_method(lua_State *L)
{
    handle *h = to_handle(L, 1);
    if (!h)
        return pg_lua_fail(L, PG_INVALID_ARGUMENT, "self: expected a progallery store");
    return call_api(L, h, 1, 2);
}

/* Module-level functions act on a default store, opened on first use. */
static int l_module_fn(lua_State *L)
{
    handle *h;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_DEFAULT);
    h = to_handle(L, -1);
    lua_pop(L, 1);
    if (!h || !handle_db(h)) {
        pg_open_opts o;
        pg_status st;
        pg_role caller;
        caller_id cid;
        lua_pushnil(L);
        read_open_options(L, lua_gettop(L), &o, &caller, &cid, &st); /* no table: o.path is C text */
        lua_pop(L, 2);
        h = new_handle(L);
        if (!pg_db_open(&o, &h->db, &st))
            return pg_lua_status(L, &st);
        h->closed = 0;
        h->caller = caller;
        h->cid = cid;
        lua_setfield(L, LUA_REGISTRYINDEX, REG_DEFAULT);
    }
    lua_getfield(L, LUA_REGISTRYINDEX, REG_DEFAULT);
    lua_insert(L, 1); /* the store first, as for a method call */
    return call_api(L, h, 1, 2);
}

/* ---- module ------------------------------------------------------------------ */

/* Each function's upvalues: its entry (of pg_api or pg_feed_api), and
 * run_call (one closure, so that no call allocates one). */
static void set_functions(lua_State *L, lua_CFunction f, const pg_api_entry *entries, int n)
{
    int i;
    lua_pushcfunction(L, run_call);
    for (i = 0; i < n; i++) {
        lua_pushlightuserdata(L, (void *)&entries[i]);
        lua_pushvalue(L, -2);
        lua_pushcclosure(L, f, 2);
        lua_setfield(L, -3, entries[i].name);
    }
    lua_pop(L, 1);
}

static void set_api_functions(lua_State *L, lua_CFunction f)
{
    set_functions(L, f, pg_api, pg_api_count);
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
    { "rest", l_rest },
    { NULL, NULL },
};

PG_EXPORT int luaopen_progallery(lua_State *L)
{
    if (luaL_newmetatable(L, STORE_MT)) {
        luaL_setfuncs(L, store_meta, 0);
        lua_pushliteral(L, STORE_MT);
        lua_setfield(L, -2, "__name"); /* LuaJIT does not set it */
        lua_createtable(L, 0, pg_api_count + pg_feed_api_count + 2);
        luaL_setfuncs(L, store_methods, 0);
        set_api_functions(L, l_method);
        set_functions(L, l_method, pg_feed_api, pg_feed_api_count); /* store methods only */
        lua_setfield(L, -2, "__index");
        lua_pushliteral(L, "progallery.store is locked");
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);

    pg_lua_init_elevation(L);
    find_array_mt(L);

    lua_createtable(L, 0, pg_api_count + 4);
    set_api_functions(L, l_module_fn);
    lua_pushcfunction(L, l_open);
    lua_setfield(L, -2, "open");
    pg_lua_push_elevate(L);
    lua_setfield(L, -2, "elevate");
    pg_lua_push_encoder(L);
    lua_setfield(L, -2, "encodeJSON");
    pg_lua_push_rest_shape(L);
    lua_setfield(L, -2, "restShape");
    lua_pushcfunction(L, l_escape_key);
    lua_setfield(L, -2, "escapeKey");
    pg_lua_push_jwt(L);
    lua_setfield(L, -2, "jwtRS256");
    lua_pushlightuserdata(L, NULL); /* == cjson.null == ngx.null */
    lua_setfield(L, -2, "null");
    lua_pushliteral(L, PG_VERSION);
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
