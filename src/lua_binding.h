/* The Lua binding's shared parts (lprogallery.c, lua_value.c, lua_auth.c,
 * lua_json.c): marshalling between Lua values and the core's value trees,
 * identities and elevation, and failures as nil, message, code. */
#ifndef PG_LUA_BINDING_H
#define PG_LUA_BINDING_H

#include "compat.h"
#include "status.h"
#include "strbuf.h"
#include "value.h"

#define REG_ARRAY_MT "progallery.array_mt" /* cjson's array metatable, when there is one */

/* Conversion guards: a cycle shows up as a revisit; a huge table as budget. */
#define PG_LUA_MAX_DEPTH 40
#define PG_LUA_MAX_NODES 5000000

typedef struct {
    lua_State *L;
    pg_arena *a;
    size_t budget;
    int array_mt;                             /* stack index of cjson's array metatable, or 0 */
    int refs;                                 /* stack index of the call's string table, or 0 */
    int nrefs;
    const void *path[PG_LUA_MAX_DEPTH + 2];   /* the tables being read, outermost first */
} pg_reader;

/* lua_value.c: Lua value at idx -> value tree (NULL only when out of memory);
 * value tree -> Lua, arrays carrying cjson's array metatable where it exists.
 * With a string table (r->refs, then refs for the push), a result gives back the
 * caller's own string objects wherever it carries an argument's string. */
pg_value *pg_lua_read(pg_reader *r, int idx, int depth);
void pg_lua_push(lua_State *L, const pg_value *v, int refs);
/* Pushes t[key] without running a metamethod. */
void pg_lua_raw_field(lua_State *L, int idx, const char *key);
int pg_lua_fail(lua_State *L, pg_code code, const char *msg);
int pg_lua_status(lua_State *L, const pg_status *st);

/* lua_auth.c */
typedef enum { ROLE_VISITOR, ROLE_MEMBER, ROLE_ADMIN } pg_role;
extern const char *const pg_role_names[3];
int pg_lua_identity(lua_State *L, int idx, pg_role *out, pg_status *st);
int pg_lua_elevated(lua_State *L);            /* inside an elevate()d call, on this coroutine */
void pg_lua_init_elevation(lua_State *L);
void pg_lua_push_elevate(lua_State *L);

/* lua_json.c */
typedef struct {
    pg_arena *a;
    pg_strbuf out;
    int busy; /* a call is running (a finalizer may call the same function meanwhile) */
} pg_lua_scratch;
pg_lua_scratch *pg_lua_push_scratch(lua_State *L); /* a userdata that frees both when collected */
void pg_lua_push_encoder(lua_State *L);       /* progallery.encodeJSON */

/* lua_rest.c */
void pg_lua_push_rest_shape(lua_State *L);    /* progallery.restShape */
/* lua_jwt.c */
void pg_lua_push_jwt(lua_State *L);           /* progallery.jwtRS256 */

#endif
