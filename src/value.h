/* A small tagged value tree (null, bool, number, string, array, object) that
 * carries every argument into the core and every result out of it, so the core
 * never sees lua.h. All nodes and strings live in an arena owned by the caller:
 * one arena per API call, reset afterwards, so nothing is freed node by node. */
#ifndef PG_VALUE_H
#define PG_VALUE_H

#include <stddef.h>

#include "arena.h"

typedef enum {
    PG_NULL = 0, /* the explicit null (progallery.null / JSON null) */
    PG_BOOL,
    PG_NUMBER,
    PG_STRING,
    PG_ARRAY,
    PG_OBJECT,
    PG_RAW, /* JSON text read from the store (u.str), written out as it is. As the
               value of a member with no key (key NULL) it is an object's text whose
               members belong to the enclosing object: how a stored item document
               joins its item without being parsed (see pg_raw_expand) */
    PG_INVALID /* a caller value with no place in the model (a function, a cycle,
                  ...): u.str describes it, so validation can name the field */
} pg_type;

typedef struct pg_value pg_value;

typedef struct {
    const char *key;
    size_t keylen;
    pg_value *val;
} pg_member;

struct pg_value {
    pg_type type;
    union {
        int b;
        double n;
        struct { const char *s; size_t len; int ref; } str; /* ref: see pg_lua_read */
        struct { pg_value **v; size_t n, cap; } arr;
        struct { pg_member *m; size_t n, cap; } obj;
    } u;
};

pg_value *pg_new_null(pg_arena *a);
pg_value *pg_new_bool(pg_arena *a, int b);
pg_value *pg_new_number(pg_arena *a, double n);
/* Copies s into the arena. */
pg_value *pg_new_string(pg_arena *a, const char *s, size_t len);
/* Points at s without copying: s must outlive the arena's current use. */
pg_value *pg_new_string_ref(pg_arena *a, const char *s, size_t len);
/* Empty containers with room for cap elements; they grow as needed. */
pg_value *pg_new_invalid(pg_arena *a, const char *what);
pg_value *pg_new_array(pg_arena *a, size_t cap);
pg_value *pg_new_object(pg_arena *a, size_t cap);

/* Append; return 0 on out of memory. Keys are not copied. A NULL val is
 * ignored (and succeeds), which lets builders skip absent fields. */
int pg_arr_push(pg_arena *a, pg_value *arr, pg_value *val);
int pg_obj_add(pg_arena *a, pg_value *obj, const char *key, pg_value *val);
int pg_obj_addl(pg_arena *a, pg_value *obj, const char *key, size_t keylen, pg_value *val);
/* Member lookup by key; NULL when absent. */
pg_value *pg_obj_get(const pg_value *obj, const char *key);
/* The same for a key of klen bytes (a member's key: not NUL-terminated). */
pg_value *pg_obj_getl(const pg_value *obj, const char *key, size_t klen);

/* "string", "table", ... or the description of a PG_INVALID value. */
const char *pg_type_name(const pg_value *v);

/* Integral and within +-2^53: shown as an integer everywhere (JSON and Lua). */
int pg_number_is_int(double n);

#endif
