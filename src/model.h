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
    int has_revision; /* PG_UPDATE: the revision the caller last saw (ignored in PG_CREATE) */
    int64_t revision;
} pg_item_in;

typedef enum { PG_ABSENT = 0, PG_SET, PG_CLEAR } pg_field_state;

typedef struct {
    pg_field_state name_state;
    const char *name;
    size_t namelen;
    int has_sort;
    double sort;
    int has_revision; /* PG_UPDATE: the revision the caller last saw (ignored in PG_CREATE) */
    int64_t revision;
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

/* A revision as callers give it (spec section 14): a string of 1 to 19 digits whose
 * value is 1 to 2^63 - 1 (what a stored revision can be). 1 and *out, or 0 with st set
 * (INVALID_ARGUMENT at path). */
int pg_revision_arg(const pg_value *v, pg_path *path, int64_t *out, pg_status *st);
/* A revision's text ("1"); out holds at least PG_REVISION_TEXT bytes. */
#define PG_REVISION_TEXT 21
void pg_revision_text(int64_t revision, char out[PG_REVISION_TEXT]);

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

/* Result shapes (Velo shape). doc may be NULL; revision 0 leaves `revision` out (an
 * event recorded before revisions). */
pg_value *pg_item_out(pg_arena *a, const char *id, const char *type, double sort,
                      int64_t created_ms, int64_t updated_ms, int64_t revision, pg_value *doc);
/* pg_item_out's columns as REST JSON text (a PG_RAW "{...}"), for splicing; NULL when out of
 * memory. Only for a finite sort. */
pg_value *pg_item_rest_head(pg_arena *a, const char *id, const char *type, double sort,
                            int64_t created_ms, int64_t updated_ms, int64_t revision);
pg_value *pg_gallery_out(pg_arena *a, const char *id, const char *name, size_t namelen,
                         double sort, int64_t created_ms, int64_t updated_ms,
                         int64_t total_items, int64_t revision, pg_value *items);

#endif
