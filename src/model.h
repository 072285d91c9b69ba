/* The data model of spec section 4: validation of caller input into
 * normalised documents, merging of partial updates, and the result shapes.
 * An item's fields other than id, sortOrder and dates are kept as one
 * normalised document (title, description, link, tags, image|video|text). */
#ifndef PG_MODEL_H
#define PG_MODEL_H

#include <stdint.h>

#include "status.h"
#include "value.h"

typedef enum { PG_CREATE, PG_UPDATE } pg_mode;

typedef struct {
    pg_value *doc; /* object; in PG_UPDATE a PG_NULL member means "clear it" */
    int has_sort;
    double sort;
} pg_item_in;

typedef enum { PG_ABSENT = 0, PG_SET, PG_CLEAR } pg_field_state;

typedef struct {
    pg_field_state name_state;
    const char *name;
    size_t namelen;
    int has_sort;
    double sort;
    pg_item_in *items; /* createGallery's gallery.items */
    size_t nitems;
} pg_gallery_in;

#define PG_MAX_BATCH 1000

int pg_validate_item(pg_arena *a, const pg_value *in, pg_mode mode, pg_path *path,
                     pg_item_in *out, pg_status *st);
/* An array of 0..1000 items (min_items is 0 or 1). */
int pg_validate_items(pg_arena *a, const pg_value *in, size_t min_items, pg_path *path,
                      pg_item_in **out, size_t *n, pg_status *st);
int pg_validate_gallery(pg_arena *a, const pg_value *in, pg_mode mode, pg_path *path,
                        pg_gallery_in *out, pg_status *st);

/* Stored document with a validated patch applied (PG_UPDATE semantics). */
pg_value *pg_doc_apply(pg_arena *a, const pg_value *stored, const pg_value *patch);
/* A stored document of schema 1 (media as Velo strings) in place as schema 2
 * keeps it (media as REST objects); *changed says whether anything moved.
 * 1 on success, 0 out of memory, -1 a string that is not a media string. */
int pg_doc_upgrade(pg_arena *a, pg_value *doc, int *changed);
/* "IMAGE", "VIDEO", "TEXT" or "UNDEFINED". */
const char *pg_doc_type(const pg_value *doc);

/* An array (or an empty table, which Lua cannot tell from an empty array). */
int pg_is_array(const pg_value *v);
int pg_is_null(const pg_value *v);

/* Result shapes (Velo shape). doc may be NULL. */
pg_value *pg_item_out(pg_arena *a, const char *id, const char *type, double sort,
                      int64_t created_ms, int64_t updated_ms, pg_value *doc);
pg_value *pg_gallery_out(pg_arena *a, const char *id, const char *name, size_t namelen,
                         double sort, int64_t created_ms, int64_t updated_ms,
                         int64_t total_items, pg_value *items);

#endif
