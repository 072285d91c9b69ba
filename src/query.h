/* Queries of spec section 14 (queryGalleryItems, queryGalleries) in Wix's v2
 * shape, engine-neutral: the query object checked and parsed into a tree
 * that each engine compiles to its own SQL, and the keyset cursors that page
 * through the results. No SQL here, no engine.
 *
 * A cursor is base64url(HMAC-SHA256(secret, body) || body), body the JSON of
 * { v = 1, t = target, g = galleryId, f = filter, s = sort, a = [the last row's
 * sort values], r = its row key }. It carries the filter and the sort (so, as
 * Wix says, a request with a cursor repeats neither), and the position after
 * the last row returned, so that the next page starts there (keyset): its cost
 * does not depend on how far it is. The secret is the store's own (kept in
 * it), so that every process serving the store accepts its cursors, and no
 * caller can make one: a cursor that was not made by this store for this
 * target and gallery is INVALID_ARGUMENT. */
#ifndef PG_QUERY_H
#define PG_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "value.h"

#define PG_QUERY_LIMIT_DEFAULT 50
#define PG_QUERY_LIMIT_MAX 100
#define PG_QUERY_MAX_DEPTH 8    /* nested $and / $or */
#define PG_QUERY_MAX_TERMS 256  /* conditions plus listed values, in the whole filter */
#define PG_QUERY_MAX_TEXT 8192  /* bytes of all the strings of a filter */
#define PG_QUERY_MAX_SORT 3     /* sort fields given; the row key is added after them */
#define PG_QUERY_MAX_CURSOR 32768
#define PG_QUERY_SECRET_LEN 32

typedef enum { PG_Q_ITEMS, PG_Q_GALLERIES } pg_query_target;

typedef enum {
    PG_QF_TYPE, PG_QF_TITLE, PG_QF_TAGS, PG_QF_CREATED, PG_QF_UPDATED, PG_QF_SORT, /* items */
    PG_QF_NAME, /* galleries (and PG_QF_CREATED) */
    PG_QF_KEY   /* the engine's row key: the last sort key, so that the order is total */
} pg_query_field;

typedef enum {
    PG_QOP_EQ, PG_QOP_NE, PG_QOP_IN, PG_QOP_STARTS, PG_QOP_HAS_SOME, PG_QOP_HAS_ALL,
    PG_QOP_GT, PG_QOP_GTE, PG_QOP_LT, PG_QOP_LTE,
    PG_QOP_AND, PG_QOP_OR
} pg_query_op;

/* A value: a string (type, title, tags, name), or a number (sortOrder; a date as
 * ms since 1970; a row key). */
typedef struct {
    int is_num;
    double n;
    const char *s;
    size_t len;
} pg_query_val;

typedef struct pg_query_node pg_query_node;
struct pg_query_node {
    pg_query_op op;
    pg_query_field field;    /* leaves */
    pg_query_val *vals;      /* leaves: 1 value, or the list of $in / $hasSome / $hasAll
                                (without repeats; possibly empty) */
    size_t nvals;
    pg_query_node **kids;    /* $and / $or (possibly none: true / false) */
    size_t nkids;
};

typedef struct {
    pg_query_field field;
    int desc;
} pg_query_sort;

typedef struct {
    pg_query_target target;
    const pg_query_node *filter; /* NULL: every row */
    pg_query_sort sort[PG_QUERY_MAX_SORT + 1]; /* the last one is PG_QF_KEY */
    size_t nsort;
    int64_t limit;
    /* from a cursor: the rows after this position (a value per sort key but the last,
     * whose value is after_key) */
    int has_after;
    pg_query_val after[PG_QUERY_MAX_SORT];
    int64_t after_key;
    /* for the next cursor */
    const pg_value *filter_in, *sort_in;
    char gallery_id[40];
} pg_query;

/* The query argument (a Lua table / the REST body's query; NULL: {}) of target
 * (gallery_id: the items' gallery, normalized; NULL for galleries), checked and
 * parsed into *q (arena memory). path: "query". 1, or 0 with st set
 * (INVALID_ARGUMENT naming the field, e.g. "query.filter.foo: unknown field"). */
int pg_query_parse(pg_arena *a, const pg_value *query, pg_query_target target,
                   const char *gallery_id, const unsigned char secret[PG_QUERY_SECRET_LEN],
                   pg_path *path, pg_query *q, pg_status *st);

/* The cursor of the page after a row whose sort values are vals (one per sort key
 * of q but the last) and whose row key is key; arena memory, NUL-terminated, or NULL
 * when out of memory. */
char *pg_query_cursor(pg_arena *a, const pg_query *q, const pg_query_val *vals, int64_t key,
                      const unsigned char secret[PG_QUERY_SECRET_LEN]);

#endif
