/* The storage interface: everything the API layer needs from a database,
 * in domain terms. storage_sqlite.c implements it (and holds all the SQL);
 * another engine (PostgreSQL, say) would add one file and one table of ops.
 *
 * Conventions: every op returns 1 on success (or "found"), 0 for "not found"
 * where that makes sense, and -1 on failure with *st filled in. Strings in
 * returned rows live in the arena given. */
#ifndef PG_STORAGE_H
#define PG_STORAGE_H

#include <stdint.h>

#include "ids.h"
#include "status.h"
#include "value.h"

typedef struct pg_storage pg_storage;

typedef struct {
    const char *path;
    int busy_timeout_ms;
    int synchronous_full; /* 1 = FULL, 0 = NORMAL */
    int readonly;
} pg_open_opts;

typedef struct {
    int64_t key;       /* engine row key */
    char id[PG_UUID_LEN + 1];
    const char *name;  /* NULL when unset */
    size_t namelen;
    double sort;
    int64_t created_ms, updated_ms, item_count;
} pg_gallery_row;

typedef struct {
    int64_t key, gallery_key;
    char id[PG_UUID_LEN + 1];
    const char *type;
    double sort;
    int64_t created_ms, updated_ms;
    const char *doc;   /* JSON document of the item's own fields */
    size_t doclen;
} pg_item_row;

typedef struct {
    int (*open)(const pg_open_opts *o, pg_idgen *ids, pg_storage **out, pg_status *st);
    void (*close)(pg_storage *s);

    int (*begin)(pg_storage *s, int write, pg_status *st);
    /* A number that moves whenever a commit (of this connection or another)
     * may have changed the data: for caches. */
    int (*data_version)(pg_storage *s, int64_t *v, pg_status *st);
    int (*commit)(pg_storage *s, pg_status *st);
    void (*rollback)(pg_storage *s);

    int (*gallery_find)(pg_storage *s, const char *id, pg_arena *a, pg_gallery_row *out,
                        pg_status *st);
    int (*gallery_insert)(pg_storage *s, pg_gallery_row *row, pg_status *st);
    /* Writes name, sort, updated_ms and item_count of row->key. */
    int (*gallery_update)(pg_storage *s, const pg_gallery_row *row, pg_status *st);
    int (*gallery_delete)(pg_storage *s, int64_t key, pg_status *st); /* and its items */
    int (*gallery_count)(pg_storage *s, int64_t *n, pg_status *st);
    int (*gallery_max_sort)(pg_storage *s, double *max, pg_status *st); /* 0 when none */
    /* Galleries by creation order; *rows is arena memory. */
    int (*gallery_page)(pg_storage *s, int64_t offset, int64_t limit, pg_arena *a,
                        pg_gallery_row **rows, size_t *n, pg_status *st);

    int (*item_find)(pg_storage *s, const char *id, pg_arena *a, pg_item_row *out, pg_status *st);
    int (*item_insert)(pg_storage *s, pg_item_row *row, pg_status *st);
    int (*item_update)(pg_storage *s, const pg_item_row *row, pg_status *st);
    int (*item_delete)(pg_storage *s, int64_t key, pg_status *st);
    int (*item_max_sort)(pg_storage *s, int64_t gallery_key, double *max, pg_status *st);
    /* Items by sortOrder, then creation order. */
    int (*item_page)(pg_storage *s, int64_t gallery_key, int64_t offset, int64_t limit,
                     pg_arena *a, pg_item_row **rows, size_t *n, pg_status *st);
    /* Copies every item of src into dst with new ids and dates; the copies get
     * sort orders first_sort, first_sort + 1, ... in the source's order. */
    int (*items_clone)(pg_storage *s, int64_t src_key, int64_t dst_key, double first_sort,
                       int64_t now_ms, int64_t *copied, pg_status *st);
} pg_storage_ops;

extern const pg_storage_ops pg_sqlite_ops;

#endif
