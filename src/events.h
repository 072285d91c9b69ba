/* The events of spec section 10: what each kind is called, and the envelope
 * of 10.2 (Velo shape) rebuilt from a stored event row. */
#ifndef PG_EVENTS_H
#define PG_EVENTS_H

#include "storage.h"
#include "value.h"

/* "wix.pro_gallery.gallery_v2_created", ... */
const char *pg_event_type(int kind);
/* "created", ..., "gallery_item_deleted" */
const char *pg_event_slug(int kind);

/* { entity | data, metadata } of a stored event; NULL with *problem set
 * ("out of memory", or why the row is not readable). */
pg_value *pg_event_envelope(pg_arena *a, const pg_event_row *e, const char **problem);

#endif
