/* An item's media: the Velo strings (wix:image://v1/..., wix:video://v1/...,
 * or http(s) URLs) and the REST objects of Wix they stand for (CommonImage,
 * VideoV2), which are the stored form. One grammar for both directions, as
 * Wix's SDK converts (reference 2.11): a string parses into its object, and
 * an object's string is derived from it. */
#ifndef PG_MEDIA_H
#define PG_MEDIA_H

#include "status.h"
#include "value.h"

typedef enum { PG_IMAGE, PG_VIDEO } pg_media_kind;

#define PG_MAX_MEDIA_URL 4096

/* A caller's imageInfo / videoInfo (a Velo string, or a REST object) ->
 * the object to store; NULL with *st set (at path) when it is not valid. */
pg_value *pg_media_value(pg_arena *a, pg_media_kind k, const pg_value *in, pg_path *path,
                         pg_status *st);

/* Velo string -> object, NULL when s is not one (*why: static text, for pg_media_refuse;
 * NULL when out of memory). */
pg_value *pg_media_parse(pg_arena *a, pg_media_kind k, const char *s, size_t n,
                         const char **why);
/* Sets st (at path) for a parse's why: INTERNAL when NULL, RESOURCE_EXHAUSTED past a
 * bound (the string's 4,096 bytes, a part's 1,024), INVALID_ARGUMENT otherwise. Returns 0. */
int pg_media_refuse(pg_status *st, const pg_path *path, const char *why);

/* A Velo string a caller stores -> the object kept: pg_media_parse's, with the
 * string itself as the url when the object would derive another string, so
 * that nothing of it is lost. strict: a caller's string (pg_media_parse's rules); not:
 * a stored document's, upgraded as it is. */
pg_value *pg_media_stored(pg_arena *a, pg_media_kind k, const char *s, size_t n,
                          const char **why, int strict);

/* A stored object -> its Velo string (a string node); NULL when out of
 * memory. A string (a document stored before objects were) is returned as it is. */
pg_value *pg_media_string(pg_arena *a, pg_media_kind k, const pg_value *obj);

#endif
