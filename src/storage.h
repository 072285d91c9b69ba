/* The storage interface: everything the API layer needs from a database,
 * in domain terms. Each engine is one file holding all of its SQL and one
 * table of ops (storage_sqlite.c: pg_sqlite_ops, storage_postgres.c:
 * pg_postgres_ops), listed by name in storage.c; api.c finds its engine there
 * and knows no engine. Like SQLite's VFS, the table carries its name and the
 * interface version it was written for.
 *
 * Revisions (spec section 14): api.c computes every new revision (the row read,
 * plus 1) inside the write transaction, where the row is locked (below), and the
 * engines store what the row says; inserts store row->revision too (restore.c keeps
 * an export's), while items_clone's copies start at 1.
 *
 * Conventions: every op returns 1 on success (or "found"), 0 for "not found"
 * where that makes sense, and -1 on failure with *st filled in. Strings in
 * returned rows live in the arena given.
 *
 * The isolation contract (what makes api.c's read-then-write exact under
 * concurrent writers, on an engine whose writers do not all serialize):
 *  - begin(write = 0) gives one consistent snapshot for the whole transaction;
 *  - in a write transaction, gallery_find locks the gallery found until the end
 *    of the transaction: its item_count, its items and their max sort order
 *    stay as read until commit (every item write finds its gallery first);
 *  - in a write transaction, gallery_max_sort holds a galleries-wide lock until
 *    the end, so two new galleries never take the same default sort order;
 *  - event_append numbers events in commit order (no gaps taken by others, no
 *    duplicate seq), and every committed write moves data_version.
 * SQLite meets it by serializing writers (BEGIN IMMEDIATE); PostgreSQL with row
 * locks (SELECT ... FOR UPDATE), an advisory lock and the feed's row. */
#ifndef PG_STORAGE_H
#define PG_STORAGE_H

#include <stdint.h>

#include "ids.h"
#include "query.h"
#include "status.h"
#include "value.h"

/* The version of this interface; an engine table says which one it implements. */
/* 3: revisions, moves and queries (spec section 14); 4: items_delete_some (a deletion's
 * items a batch at a time, for its events) in place of items_delete_all */
#define PG_STORAGE_VERSION 4

typedef struct pg_storage pg_storage;

typedef struct {
    const char *engine;  /* an engine's name (storage.c); NULL: "sqlite" */
    /* common to engines */
    int busy_timeout_ms; /* a call waits this long on a lock */
    int synchronous_full; /* 1 = durable on power loss, 0 = on process crash */
    int readonly;
    /* the event feed (spec section 10): the API layer's, engines ignore them */
    int64_t event_retention_ms;
    int events_off; /* record no events (a store nobody follows; the bench) */
    /* engine-specific */
    struct {
        const char *path;
    } sqlite;
    struct {
        const char *dsn;          /* libpq conninfo or postgresql:// URI */
        int connect_timeout_ms;
        int statement_timeout_ms; /* 0: none */
    } postgres;
} pg_open_opts;

typedef struct {
    int64_t key;       /* engine row key */
    char id[PG_UUID_LEN + 1];
    const char *name;  /* NULL when unset */
    size_t namelen;
    double sort;
    int64_t created_ms, updated_ms, item_count;
    /* grows by 1 with every change to the gallery or to any of its items (from 1) */
    int64_t revision;
} pg_gallery_row;

typedef struct {
    int64_t key, gallery_key;
    char id[PG_UUID_LEN + 1];
    const char *type;
    double sort;
    int64_t created_ms, updated_ms;
    const char *doc;   /* JSON document of the item's own fields */
    size_t doclen;
    int64_t revision;  /* grows by 1 with every change to the item (from 1) */
} pg_item_row;

/* An item's place in its gallery's order (sort, then key: creation order). */
typedef struct {
    int64_t key;
    double sort;
} pg_item_pos;

/* ---- the event feed (spec section 10) ----------------------------------------
 * One row per event, appended in the transaction of the change. The engine
 * numbers them: seq in commit order (never reused, even once pruned), and a
 * per-gallery entity_seq. The entity travels in its stored form, so that the
 * envelope is rebuilt exactly when the feed is read. */
typedef enum {
    PG_EV_GALLERY_CREATED, PG_EV_GALLERY_UPDATED, PG_EV_GALLERY_DELETED,
    PG_EV_ITEM_CREATED, PG_EV_ITEM_UPDATED, PG_EV_ITEM_DELETED,
    PG_EV_KINDS
} pg_event_kind;

/* Who made a change (the envelope's identity). */
typedef enum { PG_ACTOR_WIX_USER, PG_ACTOR_MEMBER, PG_ACTOR_VISITOR } pg_actor_type;

/* Where a change came from (originatedFrom); 0 = absent. */
typedef enum { PG_ORIGIN_NONE, PG_ORIGIN_GALLERY_DELETED, PG_ORIGIN_ITEM_MOVED } pg_event_origin;
#define PG_ORIGIN_LAST PG_ORIGIN_ITEM_MOVED

typedef struct {
    int64_t seq, entity_seq;           /* assigned by event_append */
    char id[PG_UUID_LEN + 1];          /* the event's own id */
    int kind;                          /* pg_event_kind */
    char gallery_id[PG_UUID_LEN + 1];  /* entityId: the gallery, for item events too */
    int64_t time_ms;
    int origin;                        /* pg_event_origin */
    int actor;                         /* pg_actor_type */
    const char *actor_id;              /* NULL when the identity has none */
    size_t actor_idlen;
    /* the entity as stored: for item events the item (item_id; doc, sort and
     * dates for created/updated), for gallery created/updated the gallery
     * (doc = its name or NULL, sort, dates, count = totalItems) */
    char item_id[PG_UUID_LEN + 1];
    const char *doc;
    size_t doclen;
    double sort;
    int64_t created_ms, updated_ms, count;
    int64_t revision; /* the entity's; 0 in events recorded before revisions */
} pg_event_row;

/* A consumer's cursor, and a gallery's entityEventSequence (for moving a feed). */
typedef struct {
    const char *name;
    size_t namelen;
    int64_t seq;
} pg_cursor_row;

typedef struct {
    char gallery_id[PG_UUID_LEN + 1];
    int64_t seq;
} pg_entity_seq_row;

typedef struct pg_storage_ops {
    const char *name;
    int version; /* PG_STORAGE_VERSION */

    int (*open)(const pg_open_opts *o, pg_storage **out, pg_status *st);
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
    /* Writes updated_ms, item_count and revision of row->key, and its name and sort when
     * named is 1 (0: they are as stored, and an engine may leave them, and the indexes
     * over them, untouched: most writes of a gallery are its items'). */
    int (*gallery_update)(pg_storage *s, const pg_gallery_row *row, int named, pg_status *st);
    int (*gallery_delete)(pg_storage *s, int64_t key, pg_status *st); /* and its items */
    int (*gallery_count)(pg_storage *s, int64_t *n, pg_status *st);
    int (*gallery_max_sort)(pg_storage *s, double *max, pg_status *st); /* 0 when none */
    /* Galleries by creation order; *rows is arena memory. */
    int (*gallery_page)(pg_storage *s, int64_t offset, int64_t limit, pg_arena *a,
                        pg_gallery_row **rows, size_t *n, pg_status *st);

    int (*item_find)(pg_storage *s, const char *id, pg_arena *a, pg_item_row *out, pg_status *st);
    int (*item_insert)(pg_storage *s, pg_item_row *row, pg_status *st);
    /* Writes sort, type, updated_ms, doc and revision of row->key. */
    int (*item_update)(pg_storage *s, const pg_item_row *row, pg_status *st);
    int (*item_delete)(pg_storage *s, int64_t key, pg_status *st);
    int (*item_max_sort)(pg_storage *s, int64_t gallery_key, double *max, pg_status *st);
    /* Items by sortOrder, then creation order. */
    int (*item_page)(pg_storage *s, int64_t gallery_key, int64_t offset, int64_t limit,
                     pg_arena *a, pg_item_row **rows, size_t *n, pg_status *st);
    /* Copies every item of src into dst with new dates; the copies get
     * sort orders first_sort, first_sort + 1, ... and ids ids[0], ids[1], ... in
     * the source's order. nids: at least the source's item count (the caller's
     * ids: an engine generates none). */
    int (*items_clone)(pg_storage *s, int64_t src_key, int64_t dst_key, double first_sort,
                       int64_t now_ms, const char (*ids)[PG_UUID_LEN + 1], size_t nids,
                       int64_t *copied, pg_status *st);
    /* Deletes up to max of a gallery's items (as gallery_delete does) and writes their
     * ids to ids, in no particular order; *n < max: none is left. For the events of a
     * deletion, called until then, so that its memory is a batch's, reused, whatever the
     * gallery's size (SQLite reads a batch's ids, then deletes the batch while its pages
     * are in the cache: a DELETE ... RETURNING took a statement journal). */
    int (*items_delete_some)(pg_storage *s, int64_t gallery_key, char (*ids)[PG_UUID_LEN + 1],
                             size_t max, size_t *n, pg_status *st);

    /* ---- the event feed (inside a write transaction where it writes) ---- */
    /* Appends rows in order, setting their seq and entity_seq. */
    int (*event_append)(pg_storage *s, pg_event_row *rows, size_t n, pg_status *st);
    /* Events with seq > after, oldest first, at most limit; *rows is arena memory. */
    int (*event_page)(pg_storage *s, int64_t after, int64_t limit, pg_arena *a,
                      pg_event_row **rows, size_t *n, pg_status *st);
    /* The last seq ever given (0: none) and the last one removed by pruning. */
    int (*feed_state)(pg_storage *s, int64_t *last_seq, int64_t *pruned_through, pg_status *st);
    /* Removes the oldest events, in seq order (at most max_rows of the engine's rows),
     * stopping at the first one later than through_ms or not yet passed by every
     * cursor. *next_ms: the time of the first event kept (-1: none is left);
     * *blocked: it stayed for a cursor or the bound, not its age. */
    int (*event_prune)(pg_storage *s, int64_t through_ms, int64_t max_rows, int64_t *removed,
                       int64_t *next_ms, int *blocked, pg_status *st);
    /* A consumer's cursor: 1 and *seq, or 0 when the name has none. */
    int (*cursor_get)(pg_storage *s, const char *name, size_t len, int64_t *seq, pg_status *st);
    int (*cursor_set)(pg_storage *s, const char *name, size_t len, int64_t seq, pg_status *st);
    /* A named lease (one deliverer per consumer, across processes and nodes):
     * taken or renewed by holder until until_ms when free, expired at now_ms or
     * already its own; 1 when held, 0 when another holder has it. */
    int (*lease_take)(pg_storage *s, const char *name, size_t len, const char *holder,
                      size_t holderlen, int64_t now_ms, int64_t until_ms, pg_status *st);

    /* ---- moving a feed between stores (progallery export / import: restore.c) ----
     * The consumers' cursors by name, after `after` (NULL: from the first), at most limit. */
    int (*cursor_page)(pg_storage *s, const char *after, size_t afterlen, int64_t limit,
                       pg_arena *a, pg_cursor_row **rows, size_t *n, pg_status *st);
    /* Galleries whose entityEventSequence is not 0, by id after `after` (NULL: from the
     * first), at most limit; and setting one back. */
    int (*entity_seq_page)(pg_storage *s, const char *after, int64_t limit, pg_arena *a,
                           pg_entity_seq_row **rows, size_t *n, pg_status *st);
    int (*entity_seq_set)(pg_storage *s, const char *gallery_id, int64_t seq, pg_status *st);
    /* On an empty feed: the feed begins after seq pruned_through. */
    int (*feed_restore)(pg_storage *s, int64_t pruned_through, pg_status *st);
    /* Appends rows that keep their seq and entity_seq (the caller checked that they
     * continue the feed, one after another); the feed's last seq moves to the last. */
    int (*event_restore)(pg_storage *s, const pg_event_row *rows, size_t n, pg_status *st);
    /* ---- queries (spec section 14); q as query.c parsed it ---- */
    /* At most limit items of a gallery that match q->filter, in q's sort order, after
     * q's position when it has one (keyset: the cost of a page does not depend on
     * where it is); *rows is arena memory. */
    int (*item_query)(pg_storage *s, int64_t gallery_key, const pg_query *q, int64_t limit,
                      pg_arena *a, pg_item_row **rows, size_t *n, pg_status *st);
    /* The same for galleries (a NULL name sorts as ""). */
    int (*gallery_query)(pg_storage *s, const pg_query *q, int64_t limit, pg_arena *a,
                         pg_gallery_row **rows, size_t *n, pg_status *st);
    /* The store's secret that signs query cursors, made with the schema (the same for
     * every connection, process and node of the store). */
    int (*query_secret)(pg_storage *s, unsigned char out[PG_QUERY_SECRET_LEN], pg_status *st);


    /* ---- moves (spec section 14; interface version 3) ---- */
    /* The items of a gallery next to position `from` in its order (sort, then key):
     * after it (after = 1, in order) or before it (after = 0, nearest first), at most
     * limit; from NULL: from the start (after = 1) or the end (after = 0). *rows is
     * arena memory. */
    int (*item_neighbours)(pg_storage *s, int64_t gallery_key, const pg_item_pos *from,
                           int after, int64_t limit, pg_arena *a, pg_item_pos **rows,
                           size_t *n, pg_status *st);
    /* Puts item `key` into gallery gallery_key at sort order `sort`, with updated_ms and
     * revision (its document, type and creation date kept). other_gallery is 0 when
     * gallery_key is the item's own: an engine may then leave the gallery column, and
     * the indexes that lead with it but do not hold the order, untouched. */
    int (*item_move)(pg_storage *s, int64_t key, int64_t gallery_key, int other_gallery,
                     double sort, int64_t updated_ms, int64_t revision, pg_status *st);
    /* Renumbers a gallery's items 1, 2, 3, ... in its order. The items whose sort
     * order changed get updated_ms = max(now_ms, updated_ms + 1) and revision + 1, and
     * are given back with their new values, in no particular order; *rows is arena
     * memory. (The one op that moves revisions itself: the rows are not read first.) */
    int (*items_renumber)(pg_storage *s, int64_t gallery_key, int64_t now_ms, pg_arena *a,
                          pg_item_row **rows, size_t *n, pg_status *st);
    /* item_find of n ids at once (n <= PG_MAX_BATCH): out[i] and found[i] (1 or 0) for
     * ids[i], in one round trip where the engine has them. */
    int (*items_find)(pg_storage *s, const char (*ids)[PG_UUID_LEN + 1], size_t n, pg_arena *a,
                      pg_item_row *out, unsigned char *found, pg_status *st);
} pg_storage_ops;

/* The engines (storage.c): by name; NULL when none has it. */
const pg_storage_ops *pg_storage_engine(const char *name);
/* The engines' names, for messages: "sqlite, postgres". */
const char *pg_storage_engine_names(void);

#endif
