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
    PG_ABORTED, /* a revision given is not the current one (spec section 14) */
    PG_UNAVAILABLE,
    PG_INTERNAL
} pg_code;

typedef struct {
    pg_code code;
    char msg[512];
    size_t fieldlen; /* msg starts with a field path of this length and ": " (0: none) */
} pg_status;

const char *pg_code_name(pg_code code);

/* Sets the status and returns 0, so callers can `return pg_fail(...)`. */
int pg_fail(pg_status *st, pg_code code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* A caller's name (a key, an option) as it appears in a message: valid UTF-8
 * as it is, a backslash doubled, and a control character or a byte that is
 * not UTF-8 as backslash-x and two hex digits, so that every message is valid
 * UTF-8 and names the key whole. Writes the rendition of the character s
 * starts with (n > 0) into out and returns its length; *used is the number of
 * bytes of s it stands for. */
#define PG_ESCAPE_MAX 4
size_t pg_escape_char(const char *s, size_t n, char out[PG_ESCAPE_MAX], size_t *used);

/* pg_fail with the message prefixed by the escaped name and ": ". */
int pg_fail_name(pg_status *st, pg_code code, const char *name, size_t len, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* A field path such as "gallery.items[2].image.imageInfo", kept while
 * descending into arguments as a stack of segments that point at the caller's
 * keys (alive for the call), and written out only when a failure is reported:
 * a valid batch never formats one. Push returns the old depth for pop. */
#define PG_PATH_TEXT 256 /* the written path, NUL included */
#define PG_PATH_DEPTH (PG_PATH_TEXT - 1) /* a segment writes at least one byte */

typedef struct {
    const char *root;
    struct {
        const char *key; /* NULL: an array index */
        size_t len;      /* key length, or the 1-based index */
    } seg[PG_PATH_DEPTH];
    size_t depth; /* segments pushed; those beyond PG_PATH_DEPTH are counted only */
    int zero_based; /* indexes written from 0, as JSON arrays count (REST); else from 1 */
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
