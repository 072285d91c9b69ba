/* The REST v2 face of the API (spec sections 9 and 12): the shape of its
 * values, and whole calls from request body text to response text, so that
 * the HTTP path never turns gallery data into Lua tables.
 *
 * Velo / stored                       REST v2
 * _id, _createdDate, _updatedDate     id, createdDate, updatedDate (outside exif, css, wixLinkData)
 * imageInfo, videoInfo                the stored objects (CommonImage, VideoV2); a Velo string
 *                                     is parsed into its object (media.h)
 * a number that is not finite         "NaN", "Infinity", "-Infinity" (and back, in the float
 *                                     fields only: sortOrder, focalPoint.x/y, unsharpMasking.*)
 */
#ifndef PG_REST_H
#define PG_REST_H

#include "api.h"
#include "status.h"
#include "strbuf.h"
#include "value.h"

typedef enum { PG_NAMES_KEEP, PG_NAMES_TO_REST, PG_NAMES_FROM_REST } pg_names;
typedef enum { PG_MEDIA_KEEP, PG_MEDIA_OBJECTS, PG_MEDIA_STRINGS } pg_media_form;

typedef struct {
    pg_names names;
    pg_media_form media;
    int floats; /* +1: non-finite numbers to strings; -1: those strings back to numbers */
    int trusted; /* the store's own results: media objects are valid, not checked again */
} pg_shape;

/* Reshapes v in place (member keys and values are replaced; v's nodes must
 * belong to the call). Returns 0 with *st set (at path) on a value that has
 * no REST or Velo form: a malformed media string or object, a value of an
 * unsupported type. */
int pg_rest_shape(pg_arena *a, pg_value *v, const pg_shape *how, pg_path *path, pg_status *st);

/* The Lua API's results: stored media objects as the Velo strings. */
int pg_velo_result(pg_arena *a, pg_value *result, pg_status *st);

/* One REST call. op is a name of the table in rest.c (the API function names);
 * gallery_id / item_id come from the URL path (NULL when absent); options are
 * the query's paging options (an object, or NULL); body is the request body
 * text (NULL when none). On success the JSON response is in out; on failure
 * *st says why (st->fieldlen covers a REST field path, 0-based). *writes is
 * set before anything runs: whether the call needs the right to write. */
typedef struct {
    const char *op;
    size_t oplen;
    const char *gallery_id, *item_id;
    size_t gallery_id_len, item_id_len;
    pg_value *options;
    const char *body;
    size_t bodylen;
    /* an HTTP If-Match header's value (NULL when none): `*`, or one strong entity tag
     * "<revision>" that updateGallery, updateGalleryItem, deleteGallery and
     * deleteGalleryItem check as they check a revision (ABORTED when not current); the
     * other ops ignore it (docs/http.md) */
    const char *if_match;
    size_t if_match_len;
} pg_rest_request;

/* The call's entry in the API table, or NULL for an op REST does not have. */
const pg_api_entry *pg_rest_entry(const char *op, size_t oplen);
/* *revision: the revision of the gallery or item the response is about (its ETag), or
 * 0 when it is about no one entity. */
int pg_rest_call(pg_db *db, const pg_rest_request *req, pg_strbuf *out, int64_t *revision,
                 pg_status *st);

#endif
