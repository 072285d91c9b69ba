/* The gallery API of spec section 3, independent of Lua: arguments arrive as
 * value trees, results leave as value trees, failures as a pg_status. Each
 * call is one transaction; a failed call changes nothing. */
#ifndef PG_API_H
#define PG_API_H

#include "status.h"
#include "storage.h"
#include "strbuf.h"
#include "value.h"

typedef struct pg_db pg_db;

int pg_db_open(const pg_open_opts *o, pg_db **out, pg_status *st);
void pg_db_close(pg_db *db);
int pg_db_readonly(const pg_db *db);
/* Moves whenever the data may have changed (any connection): for caches. */
int pg_db_data_version(pg_db *db, int64_t *v, pg_status *st);
/* Scratch memory for one call: arguments and results. Reset between calls. */
pg_arena *pg_db_arena(pg_db *db);
/* The buffer REST responses are written into (rest.h), kept for the next call. */
pg_strbuf *pg_db_out(pg_db *db);
/* On for a REST call (rest.c): results carry stored item documents as their
 * text (PG_RAW) and field paths count from 0. */
void pg_db_rest_mode(pg_db *db, int on);
/* Who the next write calls run as (the events' identity); id may be NULL. */
#define PG_ACTOR_ID_MAX 256
void pg_db_set_actor(pg_db *db, int actor, const char *id, size_t len);

/* args[i] is NULL when the caller passed nothing (nil) in that position. */
typedef pg_value *(*pg_api_fn)(pg_db *db, pg_value *const *args, pg_status *st);

typedef struct {
    const char *name;
    pg_api_fn fn;
    int nargs;  /* documented arguments; extra ones are ignored */
    int writes; /* needs the right to write; PG_NEEDS_PRIVILEGE: a read that needs it */
} pg_api_entry;

#define PG_NEEDS_PRIVILEGE 2

extern const pg_api_entry pg_api[];
extern const int pg_api_count;
/* The event feed (spec section 10.3): store methods only. */
extern const pg_api_entry pg_feed_api[];
extern const int pg_feed_api_count;

#endif
