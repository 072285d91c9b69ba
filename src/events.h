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

/* ---- a compact form of events, for engines that store them in chunks --------------
 * A chunk holds consecutive events of one gallery, one call: what they share (seq,
 * entity_seq, gallery, time, actor) is the engine's to keep beside the chunk; each
 * event packs into a few bytes plus its entity's document. */
#define PG_CHUNK_EVENTS 256
/* Bytes pg_event_pack writes for e. */
size_t pg_event_packed_size(const pg_event_row *e);
/* Writes e at out; returns the bytes written. */
size_t pg_event_pack(unsigned char *out, const pg_event_row *e);
/* Reads one event at p (n bytes left) into e's own fields (kind, origin, id, item_id
 * and the entity; the doc copied into a); returns the bytes read, or 0 when the
 * bytes are not an event (damaged) or out of memory (*oom set). */
size_t pg_event_unpack(const unsigned char *p, size_t n, pg_arena *a, pg_event_row *e, int *oom);
