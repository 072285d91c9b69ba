/* Error codes of the API contract (spec section 7) and the status every core
 * call fills in. Messages start with the field path when there is one. */
#ifndef PG_STATUS_H
#define PG_STATUS_H

#include <stddef.h>

typedef enum {
    PG_OK = 0,
    PG_INVALID_ARGUMENT,
    PG_PERMISSION_DENIED,
    PG_NOT_FOUND,
    PG_RESOURCE_EXHAUSTED,
    PG_FAILED_PRECONDITION,
    PG_UNAVAILABLE,
    PG_INTERNAL
} pg_code;

typedef struct {
    pg_code code;
    char msg[512];
} pg_status;

const char *pg_code_name(pg_code code);

/* Sets the status and returns 0, so callers can `return pg_fail(...)`. */
int pg_fail(pg_status *st, pg_code code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* A field path such as "gallery.items[2].image.imageInfo", built while
 * descending into arguments. Push returns the old length for pop. */
typedef struct {
    char buf[256];
    size_t len;
} pg_path;

void pg_path_init(pg_path *p, const char *root);
size_t pg_path_key(pg_path *p, const char *key, size_t keylen);
size_t pg_path_index(pg_path *p, size_t index1);
void pg_path_pop(pg_path *p, size_t oldlen);

/* pg_fail with the message prefixed by "path: ". */
int pg_fail_at(pg_status *st, pg_code code, const pg_path *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#endif
