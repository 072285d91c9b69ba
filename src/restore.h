/* Restoring an exported store with its ids, dates and sort orders (restore.c). */
#ifndef PG_RESTORE_H
#define PG_RESTORE_H

#include "api.h"

pg_value *pg_restore_gallery(pg_db *db, pg_value *const *args, pg_status *st);
pg_value *pg_restore_items(pg_db *db, pg_value *const *args, pg_status *st);
/* the event feed: what export reads and import restores of it */
pg_value *pg_feed_events(pg_db *db, pg_value *const *args, pg_status *st);
pg_value *pg_feed_consumers(pg_db *db, pg_value *const *args, pg_status *st);
pg_value *pg_feed_entity_seqs(pg_db *db, pg_value *const *args, pg_status *st);
pg_value *pg_restore_feed(pg_db *db, pg_value *const *args, pg_status *st);

#endif
