/* SQLite engine of the storage interface. All of its SQL lives here.
 * One connection per store; statements are prepared once per connection and
 * reset on every exit path, so none stays active between API calls. */
#include <lz4.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "json.h"
#include "model.h" /* pg_doc_upgrade: what a document becomes is the model's */
#include "query_sql.h"
#include "storage.h"
#include "strbuf.h"
#include "walbuf.h"

/* Schema versions: 1 (progallery 0.1) the tables; 2 item documents hold media as Wix's
 * REST objects instead of Velo strings (API.md section 12); 3 the event feed; 4 revisions
 * (API.md section 14); 5 the indexes of queries and the secret of their cursors (section 14);
 * 6 event chunks stored compressed; 7 the count of galleries kept. */
#define SCHEMA_VERSION 7
#define QUERY_CACHE 16 /* prepared query statements kept, by SQL text */
#define UPGRADE_BATCH 256

static const char *const schema_v1 =
    "CREATE TABLE galleries("
    "  gid INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL UNIQUE,"
    "  name TEXT,"
    "  sort_order NOT NULL," /* no affinity: integers stay integers */
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL,"
    "  item_count INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX galleries_by_created ON galleries(created_ms);"
    "CREATE INDEX galleries_by_sort ON galleries(sort_order);"
    "CREATE TABLE items("
    "  iid INTEGER PRIMARY KEY," /* creation order: breaks sortOrder ties */
    "  id TEXT NOT NULL UNIQUE,"
    "  gid INTEGER NOT NULL,"
    "  sort_order NOT NULL,"
    "  type TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL,"
    "  doc TEXT NOT NULL);"
    "CREATE INDEX items_by_order ON items(gid, sort_order);";

/* Version 3: the event feed (spec section 10). Events are kept in chunks of up to
 * PG_CHUNK_EVENTS consecutive events of one call and one gallery (packed by events.c),
 * keyed by their last seq: one row and one statement per chunk, not per event, so that
 * a write with its events costs little more than the write. seq continues from the
 * last chunk, or from feed.pruned_through once every chunk is pruned, so it is never
 * reused; galleries.event_seq is the per-gallery entityEventSequence, kept in the
 * gallery's own row (which every write touches anyway). */
static const char *const schema_v3_events =
    "CREATE TABLE feed("
    "  one INTEGER PRIMARY KEY CHECK (one = 1),"
    "  pruned_through INTEGER NOT NULL);"
    "INSERT INTO feed VALUES (1, 0);"
    "CREATE TABLE event_chunks("
    "  last_seq INTEGER PRIMARY KEY,"
    "  first_seq INTEGER NOT NULL,"
    "  gallery_id TEXT NOT NULL,"
    "  first_entity_seq INTEGER NOT NULL,"
    "  time_ms INTEGER NOT NULL,"
    "  actor INTEGER NOT NULL,"
    "  actor_id TEXT,"
    "  body BLOB NOT NULL);"
    "ALTER TABLE galleries ADD COLUMN event_seq INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE event_cursors(name TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE event_leases(name TEXT PRIMARY KEY, holder TEXT NOT NULL,"
    "  until_ms INTEGER NOT NULL) WITHOUT ROWID;";

/* Version 4: revisions (spec section 14); the rows of an older file start at 1. */
static const char *const schema_v4_revisions =
    "ALTER TABLE galleries ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE items ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;";

/* Version 5: queries (spec section 14). Keyset pages read an index in the sort's
 * order from the cursor's position on: one per sort field (the row key is the
 * index's last column, as SQLite keeps it); the name index serves $eq / $in on
 * name (one member's gallery, say), the coalesce one the name sort. The cursor
 * secret is made here, once per store (SQLite's randomblob: its PRNG is seeded
 * from the OS), so every connection of every process signs alike. IF NOT EXISTS: a
 * file set back to an older version by hand (the specs do) may have them already. */
static const char *const schema_v5_queries =
    "CREATE INDEX IF NOT EXISTS items_by_created ON items(gid, created_ms);"
    "CREATE INDEX IF NOT EXISTS items_by_updated ON items(gid, updated_ms);"
    "CREATE INDEX IF NOT EXISTS galleries_by_name ON galleries(name);"
    "CREATE INDEX IF NOT EXISTS galleries_by_name_sort ON galleries(coalesce(name, ''));"
    "CREATE TABLE IF NOT EXISTS secrets(name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;"
    "INSERT OR IGNORE INTO secrets VALUES ('cursor', randomblob(32));";

/* Version 6: an event chunk's body may be LZ4-compressed, raw_size then being its size
 * unpacked (NULL: stored as packed). An item event carries the item's document, so
 * without it a write with its events wrote its documents twice. */
static const char *const schema_v6_chunk_codec = "ALTER TABLE event_chunks ADD COLUMN raw_size INTEGER;";

/* Version 7: listGalleries' totalGalleries read from a kept count, not count(*), which
 * reads an index of every gallery: listGalleries took 2.1 ms on a site of 100,010
 * galleries against 0.47 ms with 10,000 (make bench's scaling table), count(*) alone
 * 1.5 to 2 ms in the sqlite3 shell; with the count, 0.29 ms against 1.55 ms on the
 * 100,010-gallery site (old and new module side by side). Triggers keep it, so that every way a gallery row
 * comes or goes (create, delete, import, a file filled by hand) counts. IF NOT EXISTS and
 * OR REPLACE: a file set back to an older version by hand (the specs do) may have them
 * already; the count is taken again, inside the migration's write transaction. */
static const char *const schema_v7_counts =
    "CREATE TABLE IF NOT EXISTS site_counts("
    "  one INTEGER PRIMARY KEY CHECK (one = 1),"
    "  galleries INTEGER NOT NULL);"
    "INSERT OR REPLACE INTO site_counts SELECT 1, count(*) FROM galleries;"
    "CREATE TRIGGER IF NOT EXISTS galleries_counted_in AFTER INSERT ON galleries"
    "  BEGIN UPDATE site_counts SET galleries = galleries + 1 WHERE one = 1; END;"
    "CREATE TRIGGER IF NOT EXISTS galleries_counted_out AFTER DELETE ON galleries"
    "  BEGIN UPDATE site_counts SET galleries = galleries - 1 WHERE one = 1; END;";

enum {
    Q_BEGIN_READ, Q_BEGIN_WRITE, Q_COMMIT, Q_ROLLBACK, Q_DATA_VERSION,
    Q_GALLERY_FIND, Q_GALLERY_INSERT, Q_GALLERY_UPDATE, Q_GALLERY_TOUCH, Q_GALLERY_TOUCH_SEQ,
    Q_GALLERY_DELETE_ITEMS,
    Q_GALLERY_DELETE, Q_GALLERY_COUNT, Q_GALLERY_MAX_SORT, Q_GALLERY_PAGE,
    Q_ITEM_FIND, Q_ITEM_INSERT, Q_ITEM_UPDATE, Q_ITEM_DELETE, Q_ITEM_MAX_SORT, Q_ITEM_PAGE,
    Q_ITEMS_CLONE, Q_ITEMS_DELETE_FIRST, Q_ITEMS_DELETE_THROUGH,
    /* the event feed */
    Q_FEED_STATE, Q_FEED_SET_PRUNED, Q_CHUNK_INSERT, Q_ENTITY_ADD,
    Q_CHUNK_PAGE, Q_CHUNK_OLDEST, Q_CHUNK_DELETE_THROUGH,
    Q_CURSOR_MIN, Q_CURSOR_GET, Q_CURSOR_SET, Q_LEASE_TAKE,
    /* moving a feed (export / import) */
    Q_CURSOR_PAGE, Q_ENTITY_PAGE, Q_ENTITY_SET, Q_ENTITY_SET_KEY,
    Q_SECRET,
    /* moves */
    Q_ITEMS_AFTER, Q_ITEMS_BEFORE, Q_ITEMS_FIRST, Q_ITEMS_LAST, Q_ITEM_MOVE, Q_ITEM_REORDER,
    Q_ITEMS_RENUMBER,
    Q_COUNT
};

/* The columns of a listed row, in the order read_item_row / read_gallery_row read them:
 * every statement that lists rows names them through these. */
#define ITEM_ROW "iid, id, type, sort_order, created_ms, updated_ms, doc, revision"
#define GALLERY_ROW "gid, id, name, sort_order, created_ms, updated_ms, item_count, revision"

static const char *const sql[Q_COUNT] = {
    [Q_BEGIN_READ] = "BEGIN",
    [Q_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_DATA_VERSION] = "PRAGMA data_version",
    [Q_GALLERY_FIND] = "SELECT gid, name, sort_order, created_ms, updated_ms, item_count, revision,"
                       " event_seq FROM galleries WHERE id = ?1",
    [Q_GALLERY_INSERT] = "INSERT INTO galleries(id, name, sort_order, created_ms, updated_ms,"
                         " item_count, revision) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [Q_GALLERY_UPDATE] = "UPDATE galleries SET name = ?2, sort_order = ?3, updated_ms = ?4,"
                         " item_count = ?5, revision = ?6 WHERE gid = ?1",
    [Q_GALLERY_TOUCH] = "UPDATE galleries SET updated_ms = ?4, item_count = ?5, revision = ?6"
                        " WHERE gid = ?1",
    [Q_GALLERY_TOUCH_SEQ] = "UPDATE galleries SET updated_ms = ?4, item_count = ?5, revision = ?6,"
                            " event_seq = ?7 WHERE gid = ?1",
    [Q_GALLERY_DELETE_ITEMS] = "DELETE FROM items WHERE gid = ?1",
    [Q_GALLERY_DELETE] = "DELETE FROM galleries WHERE gid = ?1",
    [Q_GALLERY_COUNT] = "SELECT galleries FROM site_counts WHERE one = 1", /* schema 7 */
    [Q_GALLERY_MAX_SORT] = "SELECT max(sort_order) FROM galleries",
    [Q_GALLERY_PAGE] = "SELECT " GALLERY_ROW " FROM galleries ORDER BY created_ms, gid LIMIT ?1 OFFSET ?2",
    [Q_ITEM_FIND] = "SELECT iid, gid, type, sort_order, created_ms, updated_ms, doc, revision"
                    " FROM items WHERE id = ?1",
    [Q_ITEM_INSERT] = "INSERT INTO items(id, gid, sort_order, type, created_ms, updated_ms, doc,"
                      " revision) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [Q_ITEM_UPDATE] = "UPDATE items SET sort_order = ?2, type = ?3, updated_ms = ?4, doc = ?5,"
                      " revision = ?6 WHERE iid = ?1",
    [Q_ITEM_DELETE] = "DELETE FROM items WHERE iid = ?1",
    [Q_ITEM_MAX_SORT] = "SELECT max(sort_order) FROM items WHERE gid = ?1",
    [Q_ITEM_PAGE] = "SELECT " ITEM_ROW " FROM items WHERE gid = ?1 ORDER BY sort_order, iid LIMIT ?2 OFFSET ?3",
    /* The clone stays inside SQLite: one statement; the n-th copy takes the caller's
     * n-th id (pg_clone_id reads the array given to items_clone, generates nothing). */
    [Q_ITEMS_CLONE] = "INSERT INTO items(id, gid, sort_order, type, created_ms, updated_ms, doc)"
                      " SELECT pg_clone_id(rn), ?2, ?4 + rn - 1, type, ?3, ?3, doc FROM"
                      " (SELECT row_number() OVER (ORDER BY sort_order, iid) AS rn, type, doc"
                      " FROM items WHERE gid = ?1) ORDER BY rn",
    /* a gallery's items a batch at a time, in index order: the ids, then the batch's rows,
     * deleted while its pages are still in the cache (items_delete_some); a DELETE ...
     * RETURNING writes every page it changes to a statement journal first (a temp file
     * past 64 KiB) */
    [Q_ITEMS_DELETE_FIRST] = "SELECT iid, id, sort_order FROM items WHERE gid = ?1"
                             " ORDER BY sort_order, iid LIMIT ?2",
    [Q_ITEMS_DELETE_THROUGH] = "DELETE FROM items WHERE gid = ?1 AND (sort_order, iid) <= (?2, ?3)",
    [Q_FEED_STATE] = "SELECT max(coalesce((SELECT max(last_seq) FROM event_chunks), 0), pruned_through),"
                     " pruned_through FROM feed WHERE one = 1",
    [Q_FEED_SET_PRUNED] = "UPDATE feed SET pruned_through = ?1 WHERE one = 1",
    [Q_CHUNK_INSERT] = "INSERT INTO event_chunks(last_seq, first_seq, gallery_id, first_entity_seq,"
                       " time_ms, actor, actor_id, body, raw_size) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    /* a gallery that is gone (its deletion's events) keeps counting from 0 */
    /* read, then set: an UPDATE ... RETURNING takes a statement journal, whose 64 KiB
     * buffer malloc'd and freed on every call made the heap shrink and grow each time */
    [Q_ENTITY_ADD] = "SELECT event_seq FROM galleries WHERE id = ?1",
    [Q_CHUNK_PAGE] = "SELECT last_seq, first_seq, gallery_id, first_entity_seq, time_ms, actor, actor_id,"
                     " body, raw_size FROM event_chunks WHERE last_seq > ?1 ORDER BY last_seq",
    [Q_CHUNK_OLDEST] = "SELECT last_seq, time_ms FROM event_chunks ORDER BY last_seq LIMIT ?1",
    [Q_CHUNK_DELETE_THROUGH] = "DELETE FROM event_chunks WHERE last_seq <= ?1",
    [Q_CURSOR_MIN] = "SELECT min(seq) FROM event_cursors",
    [Q_CURSOR_GET] = "SELECT seq FROM event_cursors WHERE name = ?1",
    [Q_CURSOR_SET] = "INSERT OR REPLACE INTO event_cursors(name, seq) VALUES (?1, ?2)",
    [Q_LEASE_TAKE] = "INSERT INTO event_leases(name, holder, until_ms) VALUES (?1, ?2, ?4)"
                     " ON CONFLICT(name) DO UPDATE SET holder = excluded.holder,"
                     " until_ms = excluded.until_ms"
                     " WHERE event_leases.holder = excluded.holder OR event_leases.until_ms <= ?3",
    /* names are never empty: '' comes before every one */
    [Q_CURSOR_PAGE] = "SELECT name, seq FROM event_cursors WHERE name > ?1 ORDER BY name LIMIT ?2",
    [Q_ENTITY_PAGE] = "SELECT id, event_seq FROM galleries WHERE id > ?1 AND event_seq <> 0"
                      " ORDER BY id LIMIT ?2",
    [Q_ENTITY_SET] = "UPDATE galleries SET event_seq = ?2 WHERE id = ?1",
    [Q_ENTITY_SET_KEY] = "UPDATE galleries SET event_seq = ?2 WHERE gid = ?1",
    [Q_SECRET] = "SELECT value FROM secrets WHERE name = 'cursor'",
    /* a gallery's order is (sort_order, iid): items_by_order holds both (iid is the rowid) */
    [Q_ITEMS_AFTER] = "SELECT iid, sort_order FROM items WHERE gid = ?1"
                      " AND (sort_order, iid) > (?2, ?3) ORDER BY sort_order, iid LIMIT ?4",
    [Q_ITEMS_BEFORE] = "SELECT iid, sort_order FROM items WHERE gid = ?1"
                       " AND (sort_order, iid) < (?2, ?3) ORDER BY sort_order DESC, iid DESC LIMIT ?4",
    [Q_ITEMS_FIRST] = "SELECT iid, sort_order FROM items WHERE gid = ?1"
                      " ORDER BY sort_order, iid LIMIT ?4",
    [Q_ITEMS_LAST] = "SELECT iid, sort_order FROM items WHERE gid = ?1"
                     " ORDER BY sort_order DESC, iid DESC LIMIT ?4",
    [Q_ITEM_MOVE] = "UPDATE items SET gid = ?2, sort_order = ?3, updated_ms = ?4, revision = ?5"
                    " WHERE iid = ?1",
    [Q_ITEM_REORDER] = "UPDATE items SET sort_order = ?3, updated_ms = ?4, revision = ?5"
                       " WHERE iid = ?1 AND gid = ?2",
    [Q_ITEMS_RENUMBER] = "UPDATE items SET sort_order = r.rn, updated_ms = max(?2, items.updated_ms + 1),"
                         " revision = items.revision + 1"
                         " FROM (SELECT iid, row_number() OVER (ORDER BY sort_order, iid) AS rn"
                         " FROM items WHERE gid = ?1) AS r"
                         " WHERE items.iid = r.iid AND items.sort_order <> r.rn"
                         " RETURNING " ITEM_ROW,
};

struct pg_storage {
    sqlite3 *db;
    sqlite3_stmt *stmt[Q_COUNT];
    /* the ids of the running items_clone */
    const char (*clone_ids)[PG_UUID_LEN + 1];
    size_t clone_nids;
    int busy_timeout_ms;
    int writing;         /* inside a write transaction */
    int64_t own_commits; /* PRAGMA data_version only counts other connections' commits */
    /* the statements of queries, compiled per filter and sort shape: the last used */
    struct {
        char *text;
        sqlite3_stmt *q;
        uint64_t used;
    } qcache[QUERY_CACHE];
    uint64_t qclock;
    int walbuf; /* holds the WAL buffer's VFS (walbuf.c) */
    /* LZ4's state for the feed's chunks, kept: LZ4_compress_default clears its 16 KiB hash
     * table for every call, which was half of a single event's compression */
    LZ4_stream_t *lz4;
    /* The feed's last seq, as this connection's last committed append left it, valid
     * while the file's data version (SQLITE_FCNTL_DATA_VERSION: moved by every commit of
     * any connection, this one's too) is the one read after that commit: most appends
     * then skip the feed-state read. */
    struct {
        int known;          /* last and version hold */
        unsigned version;
        int64_t last;
        int pending;        /* this transaction appended: last_pending is the new last */
        int64_t last_pending;
        int other;          /* this transaction changed the feed otherwise (prune, restore) */
    } feed;
    /* The gallery this write transaction found last, with its entityEventSequence: its row
     * is locked to the end of the transaction, so the append's counter needs no read and
     * writes the row by its key. */
    struct {
        int valid;
        int64_t key;
        char id[PG_UUID_LEN + 1];
        int64_t event_seq;
        /* Its touch (an item write's updated_ms, item_count, revision), held back until
         * the next statement: the feed's append then writes it with the
         * entityEventSequence, one UPDATE of the row instead of two (callgrind: about
         * 5,900 instructions a write). Any statement but the feed's own writes it first
         * (stmt), so nothing reads the row without it, and nothing finds another gallery
         * or invalidates this one while it is held. */
        int touched;
        int64_t updated_ms, item_count, revision;
    } found;
};

static int fail_db(pg_storage *s, int rc, pg_status *st)
{
    int prim = rc & 0xFF;
    const char *msg = s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)
        pg_fail(st, PG_UNAVAILABLE, "database is locked (waited busyTimeout = %d ms)",
                s ? s->busy_timeout_ms : 0);
    else if (prim == SQLITE_READONLY)
        pg_fail(st, PG_FAILED_PRECONDITION, "database is read-only: %s", msg);
    else if (prim == SQLITE_NOMEM)
        pg_fail(st, PG_INTERNAL, "out of memory");
    else if (s && s->db && sqlite3_system_errno(s->db))
        pg_fail(st, PG_INTERNAL, "storage error: %s (%s)", msg, strerror(sqlite3_system_errno(s->db)));
    else
        pg_fail(st, PG_INTERNAL, "storage error: %s", msg);
    return -1;
}

static int touch_write(pg_storage *s, int64_t seq, pg_status *st);

/* The feed's statements, which never read or write the galleries table: a held-back
 * touch can wait past them. */
static int feed_only(int q)
{
    return q == Q_FEED_STATE || q == Q_CHUNK_INSERT || q == Q_CHUNK_OLDEST
           || q == Q_CHUNK_DELETE_THROUGH || q == Q_CURSOR_MIN || q == Q_FEED_SET_PRUNED;
}

static sqlite3_stmt *stmt(pg_storage *s, int q, pg_status *st)
{
    if (s->found.touched && !feed_only(q) && touch_write(s, -1, st) < 0)
        return NULL;
    if (!s->stmt[q]) {
        int rc = sqlite3_prepare_v3(s->db, sql[q], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[q], NULL);
        if (rc != SQLITE_OK) {
            fail_db(s, rc, st);
            return NULL;
        }
    }
    return s->stmt[q];
}

static void bind_number(sqlite3_stmt *q, int i, double n)
{
    if (pg_number_is_int(n))
        sqlite3_bind_int64(q, i, (sqlite3_int64)n);
    else
        sqlite3_bind_double(q, i, n);
}

static void bind_text(sqlite3_stmt *q, int i, const char *s, size_t n)
{
    if (s)
        sqlite3_bind_text(q, i, s, (int)n, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, i);
}

/* Steps a statement that returns no rows; always resets it. */
static int run(pg_storage *s, sqlite3_stmt *q, pg_status *st)
{
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    if (rc != SQLITE_DONE)
        return fail_db(s, rc, st);
    return 1;
}

/* After the last sqlite3_step of a query: reset, and map a failure. */
static int finish(pg_storage *s, sqlite3_stmt *q, int rc, pg_status *st)
{
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return fail_db(s, rc, st);
    return 1;
}

/* Writes the found gallery's held-back touch, with its entityEventSequence when seq >= 0. */
static int touch_write(pg_storage *s, int64_t seq, pg_status *st)
{
    sqlite3_stmt *q;
    s->found.touched = 0;
    if (!(q = stmt(s, seq >= 0 ? Q_GALLERY_TOUCH_SEQ : Q_GALLERY_TOUCH, st)))
        return -1;
    sqlite3_bind_int64(q, 1, s->found.key);
    sqlite3_bind_int64(q, 4, s->found.updated_ms);
    sqlite3_bind_int64(q, 5, s->found.item_count);
    sqlite3_bind_int64(q, 6, s->found.revision);
    if (seq >= 0)
        sqlite3_bind_int64(q, 7, seq);
    return run(s, q, st);
}

static const char *col_text(pg_arena *a, sqlite3_stmt *q, int col, size_t *len)
{
    const unsigned char *t = sqlite3_column_text(q, col);
    size_t n = (size_t)sqlite3_column_bytes(q, col);
    if (!t)
        return NULL;
    if (len)
        *len = n;
    return pg_arena_strdup(a, (const char *)t, n);
}

static void copy_id(char dst[PG_UUID_LEN + 1], sqlite3_stmt *q, int col)
{
    const unsigned char *t = sqlite3_column_text(q, col);
    size_t n = t ? (size_t)sqlite3_column_bytes(q, col) : 0;
    if (n > PG_UUID_LEN)
        n = PG_UUID_LEN;
    if (n)
        memcpy(dst, t, n);
    dst[n] = '\0';
}

/* ---- connection --------------------------------------------------------- */

/* pg_clone_id(n): the n-th (from 1) id given to the running items_clone; NULL past
 * the last (the NOT NULL id column then fails the clone). */
static void sql_clone_id(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    pg_storage *s = sqlite3_user_data(ctx);
    sqlite3_int64 n = sqlite3_value_int64(argv[0]);
    (void)argc;
    if (n >= 1 && (size_t)n <= s->clone_nids)
        sqlite3_result_text(ctx, s->clone_ids[n - 1], PG_UUID_LEN, SQLITE_STATIC);
    else
        sqlite3_result_null(ctx);
}

static int exec(pg_storage *s, const char *text, pg_status *st)
{
    int rc = sqlite3_exec(s->db, text, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 1 : fail_db(s, rc, st);
}

static int user_version(pg_storage *s, int *v, pg_status *st)
{
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q, NULL);
    if (rc != SQLITE_OK)
        return fail_db(s, rc, st);
    rc = sqlite3_step(q);
    *v = rc == SQLITE_ROW ? sqlite3_column_int(q, 0) : 0;
    sqlite3_finalize(q);
    return rc == SQLITE_ROW ? 1 : fail_db(s, rc, st);
}

static int upgrade_docs_batch(pg_storage *s, pg_arena *a, sqlite3_int64 *after, int *more,
                              pg_status *st)
{
    sqlite3_stmt *sel = NULL, *upd = NULL;
    sqlite3_int64 keys[UPGRADE_BATCH];
    char *docs[UPGRADE_BATCH];
    size_t lens[UPGRADE_BATCH];
    int n = 0, i, rc;
    *more = 0;
    rc = sqlite3_prepare_v2(s->db, "SELECT iid, doc FROM items WHERE iid > ?1 ORDER BY iid LIMIT ?2",
                            -1, &sel, NULL);
    if (rc != SQLITE_OK)
        return fail_db(s, rc, st);
    sqlite3_bind_int64(sel, 1, *after);
    sqlite3_bind_int(sel, 2, UPGRADE_BATCH);
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(sel, 1), *err = NULL;
        size_t len = (size_t)sqlite3_column_bytes(sel, 1);
        pg_value *doc;
        int changed = 0, up;
        *after = sqlite3_column_int64(sel, 0);
        *more = 1;
        doc = text ? pg_json_decode(a, text, len, &err) : NULL;
        if (!doc || doc->type != PG_OBJECT) {
            sqlite3_finalize(sel);
            return pg_fail(st, PG_INTERNAL, "database damaged: item %lld: document not readable",
                           (long long)*after), -1;
        }
        if ((up = pg_doc_upgrade(a, doc, &changed)) <= 0) {
            sqlite3_finalize(sel);
            return up == 0 ? pg_fail(st, PG_INTERNAL, "out of memory"), -1
                           : (pg_fail(st, PG_INTERNAL, "database damaged: item %lld: a media string"
                                      " no progallery wrote", (long long)*after), -1);
        }
        if (changed) {
            if (!(docs[n] = pg_json_encode(a, doc, &lens[n]))) {
                sqlite3_finalize(sel);
                return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
            }
            keys[n++] = *after;
        }
    }
    sqlite3_finalize(sel);
    if (rc != SQLITE_DONE)
        return fail_db(s, rc, st);
    rc = sqlite3_prepare_v2(s->db, "UPDATE items SET doc = ?2 WHERE iid = ?1", -1, &upd, NULL);
    if (rc != SQLITE_OK)
        return fail_db(s, rc, st);
    for (i = 0; i < n; i++) {
        sqlite3_bind_int64(upd, 1, keys[i]);
        sqlite3_bind_text(upd, 2, docs[i], (int)lens[i], SQLITE_STATIC);
        rc = sqlite3_step(upd);
        sqlite3_reset(upd);
        if (rc != SQLITE_DONE) {
            sqlite3_finalize(upd);
            return fail_db(s, rc, st);
        }
    }
    sqlite3_finalize(upd);
    return 1;
}

/* Schema 1 -> 2: every item document, a batch at a time, inside the caller's
 * transaction (a crash leaves schema 1, untouched). */
static int upgrade_docs(pg_storage *s, pg_status *st)
{
    pg_arena *a = pg_arena_new();
    sqlite3_int64 after = 0;
    int more = 1, rc = 1;
    if (!a)
        return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
    while (more && rc > 0) {
        rc = upgrade_docs_batch(s, a, &after, &more, st);
        pg_arena_reset(a);
    }
    pg_arena_free(a);
    return rc;
}



static int step_v1(pg_storage *s, pg_status *st) { return exec(s, schema_v1, st); }
static int step_v3(pg_storage *s, pg_status *st) { return exec(s, schema_v3_events, st); }
static int step_v4(pg_storage *s, pg_status *st) { return exec(s, schema_v4_revisions, st); }
static int step_v5(pg_storage *s, pg_status *st) { return exec(s, schema_v5_queries, st); }
static int step_v7(pg_storage *s, pg_status *st) { return exec(s, schema_v7_counts, st); }
/* A file set back to an older version by hand (the specs do) may have the column already. */
static int step_v6(pg_storage *s, pg_status *st)
{
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(s->db, "SELECT 1 FROM pragma_table_info('event_chunks') WHERE name = 'raw_size'",
                                -1, &q, NULL), has;
    if (rc != SQLITE_OK)
        return fail_db(s, rc, st), -1;
    rc = sqlite3_step(q);
    has = rc == SQLITE_ROW;
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail_db(s, rc, st), -1;
    return has ? 1 : exec(s, schema_v6_chunk_codec, st);
}

/* The migrations, in order: migrations[v] takes a file from version v to v + 1. */
static int (*const migrations[SCHEMA_VERSION])(pg_storage *, pg_status *) = {
    step_v1, upgrade_docs, step_v3, step_v4, step_v5, step_v6, step_v7,
};

/* Creates or upgrades the schema. The common case (already current) takes no
 * lock, so opening a store never waits for another connection's writes; an
 * older (or new) file is brought up to date in one write transaction, so that two
 * processes opening it at once do not both migrate it, and a crash leaves it as
 * it was. */
static int migrate(pg_storage *s, int readonly, pg_status *st)
{
    int v = 0;
    char set[48];
    if (user_version(s, &v, st) < 0)
        return -1;
    if (v == 0 && readonly)
        return pg_fail(st, PG_FAILED_PRECONDITION,
                       "path: no progallery data in this file (open it read-write once)"), -1;
    if (v > 0 && v < SCHEMA_VERSION && readonly)
        return pg_fail(st, PG_FAILED_PRECONDITION,
                       "path: file has schema version %d; open it read-write once to upgrade it", v), -1;
    if (v >= 0 && v < SCHEMA_VERSION) {
        if (exec(s, "BEGIN IMMEDIATE", st) < 0)
            return -1;
        if (user_version(s, &v, st) < 0)
            goto fail;
        if (v >= 0 && v < SCHEMA_VERSION) {
            for (; v < SCHEMA_VERSION; v++)
                if (migrations[v](s, st) < 0)
                    goto fail;
            snprintf(set, sizeof set, "PRAGMA user_version = %d", SCHEMA_VERSION);
            if (exec(s, set, st) < 0)
                goto fail;
        }
        if (exec(s, "COMMIT", st) < 0)
            goto fail;
    }
    if (v < 0) {
        pg_fail(st, PG_FAILED_PRECONDITION,
                "path: file has schema version %d, which no progallery writes", v);
        return -1;
    }
    if (v > SCHEMA_VERSION) {
        pg_fail(st, PG_FAILED_PRECONDITION,
                "path: file has schema version %d, newer than this progallery (%d)", v,
                SCHEMA_VERSION);
        return -1;
    }
    return 1;
fail:
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int setup_once(pg_storage *s, const pg_open_opts *o, pg_status *st)
{
    if (!o->readonly && exec(s, "PRAGMA journal_mode = WAL", st) < 0)
        return -1;
    if (exec(s, o->synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
             st) < 0)
        return -1;
    return migrate(s, o->readonly, st);
}

/* Sets a connection up. When several processes open a new file at once, the
 * switch to WAL and the schema creation can meet in a lock cycle that SQLite
 * resolves by failing one side at once, without its busy handler: so retry
 * here, for as long as busyTimeout allows. */
static int setup(pg_storage *s, const pg_open_opts *o, pg_status *st)
{
    int64_t deadline = pg_monotonic_ms() + o->busy_timeout_ms, left;
    int rc;
    for (;;) {
        /* one deadline for all attempts, busy waits inside SQLite included */
        left = deadline - pg_monotonic_ms();
        sqlite3_busy_timeout(s->db, left > 0 ? (int)left : 0);
        rc = setup_once(s, o, st);
        if (rc > 0 || st->code != PG_UNAVAILABLE || pg_monotonic_ms() >= deadline)
            break;
        sqlite3_sleep(10);
    }
    sqlite3_busy_timeout(s->db, o->busy_timeout_ms);
    return rc > 0 ? 1 : -1;
}

static void sq_close(pg_storage *s)
{
    int i;
    if (!s)
        return;
    for (i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    for (i = 0; i < QUERY_CACHE; i++) {
        sqlite3_finalize(s->qcache[i].q);
        free(s->qcache[i].text);
    }
    sqlite3_close_v2(s->db);
    LZ4_freeStream(s->lz4);
    if (s->walbuf)
        pg_walbuf_release();
    free(s);
}

static int sq_open(const pg_open_opts *o, pg_storage **out, pg_status *st)
{
    pg_storage *s = calloc(1, sizeof *s);
    int flags = (o->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
                | SQLITE_OPEN_NOMUTEX; /* one connection per thread, never shared */
    int rc;
    *out = NULL;
    if (!s)
        return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
    s->busy_timeout_ms = o->busy_timeout_ms;
    if (!(s->walbuf = pg_walbuf_acquire())) {
        free(s);
        return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
    }
    rc = sqlite3_open_v2(o->sqlite.path, &s->db, flags, PG_WALBUF_VFS);
    if (rc != SQLITE_OK) {
        /* read-only, nothing to open: the same precondition as a file never set up */
        pg_fail(st, o->readonly && (rc & 0xFF) == SQLITE_CANTOPEN ? PG_FAILED_PRECONDITION : PG_INTERNAL,
                "path: cannot open '%s': %s", o->sqlite.path,
                s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        sq_close(s);
        return -1;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, o->busy_timeout_ms);
    if (setup(s, o, st) < 0) {
        sq_close(s);
        return -1;
    }
    rc = sqlite3_create_function(s->db, "pg_clone_id", 1, SQLITE_UTF8, s, sql_clone_id, NULL, NULL);
    if (rc != SQLITE_OK) {
        fail_db(s, rc, st);
        sq_close(s);
        return -1;
    }
    /* Prepared now, so that ending a transaction can never fail for want of memory. */
    if (!stmt(s, Q_BEGIN_READ, st) || !stmt(s, Q_BEGIN_WRITE, st) || !stmt(s, Q_COMMIT, st)
        || !stmt(s, Q_ROLLBACK, st)) {
        sq_close(s);
        return -1;
    }
    *out = s;
    return 1;
}

static int sq_begin(pg_storage *s, int write, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, write ? Q_BEGIN_WRITE : Q_BEGIN_READ, st);
    s->writing = write;
    s->found.valid = s->found.touched = 0;
    return q ? run(s, q, st) : -1;
}

static int data_version(pg_storage *s, unsigned *v)
{
    return sqlite3_file_control(s->db, "main", SQLITE_FCNTL_DATA_VERSION, v) == SQLITE_OK;
}

/* A transaction that left the feed alone (a read, a rollback) leaves what is known as it
 * was: the data version says whether it still holds. */
static void feed_txn_end(pg_storage *s, int committed)
{
    if (committed && (s->feed.pending || s->feed.other)) {
        s->feed.known = s->feed.pending && !s->feed.other && data_version(s, &s->feed.version);
        s->feed.last = s->feed.last_pending;
    }
    s->feed.pending = s->feed.other = 0;
}

static int sq_commit(pg_storage *s, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, Q_COMMIT, st);
    if (!q || run(s, q, st) < 0) {
        feed_txn_end(s, 0);
        return -1;
    }
    s->own_commits += s->writing;
    feed_txn_end(s, 1);
    return 1;
}

static int sq_data_version(pg_storage *s, int64_t *v, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, Q_DATA_VERSION, st);
    int rc;
    if (!q)
        return -1;
    rc = sqlite3_step(q);
    *v = (rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0) + s->own_commits;
    return finish(s, q, rc, st);
}

static void sq_rollback(pg_storage *s)
{
    pg_status ignored;
    sqlite3_stmt *q;
    s->found.touched = 0;
    feed_txn_end(s, 0);
    if (sqlite3_get_autocommit(s->db))
        return; /* SQLite already rolled back (for example after SQLITE_FULL) */
    q = stmt(s, Q_ROLLBACK, &ignored);
    if (q)
        run(s, q, &ignored);
}

/* ---- galleries ---------------------------------------------------------- */

/* A stored date that no clock of this program wrote (0001-9999 only): a damaged row. */
static const char *check_dates(int64_t created_ms, int64_t updated_ms)
{
    return pg_date_ok(created_ms) && pg_date_ok(updated_ms)
               ? NULL : "database damaged: a stored date is out of range";
}

/* A revision below 1 was never written: a damaged row. */
static const char *check_revision(int64_t revision)
{
    return revision >= 1 ? NULL : "database damaged: a stored revision is out of range";
}

/* NULL, or why the row cannot be read ("out of memory", a damaged row). */
static const char *read_gallery(pg_arena *a, sqlite3_stmt *q, int first, pg_gallery_row *g)
{
    /* columns from `first`: name, sort_order, created_ms, updated_ms, item_count, revision */
    g->namelen = 0;
    g->name = col_text(a, q, first, &g->namelen);
    if (!g->name && sqlite3_column_type(q, first) != SQLITE_NULL)
        return "out of memory"; /* a NULL name must not be mistaken for one */
    g->sort = sqlite3_column_double(q, first + 1);
    g->created_ms = sqlite3_column_int64(q, first + 2);
    g->updated_ms = sqlite3_column_int64(q, first + 3);
    g->item_count = sqlite3_column_int64(q, first + 4);
    g->revision = sqlite3_column_int64(q, first + 5);
    return check_revision(g->revision) ? check_revision(g->revision)
                                       : check_dates(g->created_ms, g->updated_ms);
}

static int sq_gallery_find(pg_storage *s, const char *id, pg_arena *a, pg_gallery_row *out,
                           pg_status *st)
{
    sqlite3_stmt *q = stmt(s, Q_GALLERY_FIND, st);
    int rc, found = 0;
    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, id, PG_UUID_LEN, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        found = 1;
        out->key = sqlite3_column_int64(q, 0);
        memcpy(out->id, id, PG_UUID_LEN + 1);
        const char *problem = read_gallery(a, q, 1, out);
        if (problem) {
            finish(s, q, SQLITE_DONE, st);
            return pg_fail(st, PG_INTERNAL, "%s", problem), -1;
        }
        s->found.valid = s->writing;
        s->found.key = out->key;
        memcpy(s->found.id, id, PG_UUID_LEN + 1);
        s->found.event_seq = sqlite3_column_int64(q, 7);
    }
    return finish(s, q, rc, st) < 0 ? -1 : found;
}

static int sq_gallery_insert(pg_storage *s, pg_gallery_row *g, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, Q_GALLERY_INSERT, st);
    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, g->id, PG_UUID_LEN, SQLITE_STATIC);
    bind_text(q, 2, g->name, g->namelen);
    bind_number(q, 3, g->sort);
    sqlite3_bind_int64(q, 4, g->created_ms);
    sqlite3_bind_int64(q, 5, g->updated_ms);
    sqlite3_bind_int64(q, 6, g->item_count);
    sqlite3_bind_int64(q, 7, g->revision);
    if (run(s, q, st) < 0)
        return -1;
    g->key = sqlite3_last_insert_rowid(s->db);
    return 1;
}

static int sq_gallery_update(pg_storage *s, const pg_gallery_row *g, int named, pg_status *st)
{
    /* SQLite rewrites an index entry whenever the UPDATE names one of its columns, even
     * to the same value: naming name and sort_order rewrote three index entries a write */
    sqlite3_stmt *q;
    if (!named && s->found.valid && g->key == s->found.key) {
        s->found.touched = 1;
        s->found.updated_ms = g->updated_ms;
        s->found.item_count = g->item_count;
        s->found.revision = g->revision;
        return 1;
    }
    if (!(q = stmt(s, named ? Q_GALLERY_UPDATE : Q_GALLERY_TOUCH, st)))
        return -1;
    sqlite3_bind_int64(q, 1, g->key);
    if (named) {
        bind_text(q, 2, g->name, g->namelen);
        bind_number(q, 3, g->sort);
    }
    sqlite3_bind_int64(q, 4, g->updated_ms);
    sqlite3_bind_int64(q, 5, g->item_count);
    sqlite3_bind_int64(q, 6, g->revision);
    return run(s, q, st);
}

static int delete_by_key(pg_storage *s, int which, int64_t key, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, which, st);
    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, key);
    return run(s, q, st);
}

static int sq_gallery_delete(pg_storage *s, int64_t key, pg_status *st)
{
    if (key == s->found.key)
        s->found.valid = 0;
    if (delete_by_key(s, Q_GALLERY_DELETE_ITEMS, key, st) < 0)
        return -1;
    return delete_by_key(s, Q_GALLERY_DELETE, key, st);
}

/* A one-row, one-column aggregate; *has = 0 when it is NULL. */
static int scalar(pg_storage *s, int which, int64_t key, double *out, int *has, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, which, st);
    int rc;
    if (!q)
        return -1;
    if (sqlite3_bind_parameter_count(q) > 0)
        sqlite3_bind_int64(q, 1, key);
    rc = sqlite3_step(q);
    *has = rc == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL;
    *out = *has ? sqlite3_column_double(q, 0) : 0;
    return finish(s, q, rc, st);
}

static int sq_gallery_count(pg_storage *s, int64_t *n, pg_status *st)
{
    double d;
    int has;
    if (scalar(s, Q_GALLERY_COUNT, 0, &d, &has, st) < 0)
        return -1;
    *n = (int64_t)d;
    return 1;
}

static int sq_gallery_max_sort(pg_storage *s, double *max, pg_status *st)
{
    int has;
    return scalar(s, Q_GALLERY_MAX_SORT, 0, max, &has, st) < 0 ? -1 : has;
}

static int sq_item_max_sort(pg_storage *s, int64_t gallery_key, double *max, pg_status *st)
{
    int has;
    return scalar(s, Q_ITEM_MAX_SORT, gallery_key, max, &has, st) < 0 ? -1 : has;
}

/* Reads a row of a page query into *row; NULL, or why it cannot. */
typedef const char *(*row_reader)(pg_arena *a, sqlite3_stmt *q, void *row, void *ctx);

/* Steps a bound page query, reading at most `limit` rows of `size` bytes. */
static int collect(pg_storage *s, sqlite3_stmt *q, pg_arena *a, int64_t limit, size_t size,
                   row_reader read, void *ctx, void **rows, size_t *n, pg_status *st)
{
    char *buf;
    int rc = SQLITE_DONE;
    *rows = NULL;
    *n = 0;
    if (limit <= 0) /* an empty page: nothing to read */
        return finish(s, q, SQLITE_DONE, st);
    if (!(buf = pg_arena_alloc(a, (size_t)limit * size))) {
        finish(s, q, SQLITE_DONE, st);
        pg_fail(st, PG_INTERNAL, "out of memory");
        return -1;
    }
    *rows = buf;
    while ((int64_t)*n < limit && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *problem = read(a, q, buf + *n * size, ctx);
        if (problem) {
            finish(s, q, SQLITE_DONE, st);
            pg_fail(st, PG_INTERNAL, "%s", problem);
            return -1;
        }
        (*n)++;
    }
    /* the end of the rows, an error, or a full page (no need to step to the end) */
    return finish(s, q, rc == SQLITE_ROW ? SQLITE_DONE : rc, st);
}

static const char *read_gallery_row(pg_arena *a, sqlite3_stmt *q, void *row, void *ctx)
{
    pg_gallery_row *g = row;
    (void)ctx;
    g->key = sqlite3_column_int64(q, 0);
    copy_id(g->id, q, 1);
    return read_gallery(a, q, 2, g);
}

static int sq_gallery_page(pg_storage *s, int64_t offset, int64_t limit, pg_arena *a,
                           pg_gallery_row **rows, size_t *n, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, Q_GALLERY_PAGE, st);
    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, limit);
    sqlite3_bind_int64(q, 2, offset);
    return collect(s, q, a, limit, sizeof **rows, read_gallery_row, NULL, (void **)rows, n, st);
}

/* ---- items -------------------------------------------------------------- */

static const char *intern_type(sqlite3_stmt *q, int col)
{
    static const char *const types[] = { "IMAGE", "VIDEO", "TEXT", "UNDEFINED" };
    const char *t = (const char *)sqlite3_column_text(q, col);
    size_t i;
    for (i = 0; t && i < 3; i++)
        if (strcmp(t, types[i]) == 0)
            return types[i];
    return types[3];
}

/* columns from `first`: type, sort_order, created_ms, updated_ms, doc, revision. NULL, or why not. */
static const char *read_item(pg_arena *a, sqlite3_stmt *q, int first, pg_item_row *it)
{
    it->type = intern_type(q, first);
    it->sort = sqlite3_column_double(q, first + 1);
    it->created_ms = sqlite3_column_int64(q, first + 2);
    it->updated_ms = sqlite3_column_int64(q, first + 3);
    it->doc = col_text(a, q, first + 4, &it->doclen);
    it->revision = sqlite3_column_int64(q, first + 5);
    if (!it->doc)
        return "out of memory";
    return check_revision(it->revision) ? check_revision(it->revision)
                                        : check_dates(it->created_ms, it->updated_ms);
}

static int sq_item_find(pg_storage *s, const char *id, pg_arena *a, pg_item_row *out,
                        pg_status *st)
{
    sqlite3_stmt *q = stmt(s, Q_ITEM_FIND, st);
    int rc, found = 0;
    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, id, PG_UUID_LEN, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        found = 1;
        out->key = sqlite3_column_int64(q, 0);
        out->gallery_key = sqlite3_column_int64(q, 1);
        memcpy(out->id, id, PG_UUID_LEN + 1);
        const char *problem = read_item(a, q, 2, out);
        if (problem) {
            finish(s, q, SQLITE_DONE, st);
            return pg_fail(st, PG_INTERNAL, "%s", problem), -1;
        }
    }
    return finish(s, q, rc, st) < 0 ? -1 : found;
}

static int sq_item_insert(pg_storage *s, pg_item_row *it, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, Q_ITEM_INSERT, st);
    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, it->id, PG_UUID_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, it->gallery_key);
    bind_number(q, 3, it->sort);
    sqlite3_bind_text(q, 4, it->type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 5, it->created_ms);
    sqlite3_bind_int64(q, 6, it->updated_ms);
    sqlite3_bind_text(q, 7, it->doc, (int)it->doclen, SQLITE_STATIC);
    sqlite3_bind_int64(q, 8, it->revision);
    if (run(s, q, st) < 0)
        return -1;
    it->key = sqlite3_last_insert_rowid(s->db);
    return 1;
}

static int sq_item_update(pg_storage *s, const pg_item_row *it, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, Q_ITEM_UPDATE, st);
    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, it->key);
    bind_number(q, 2, it->sort);
    sqlite3_bind_text(q, 3, it->type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, it->updated_ms);
    sqlite3_bind_text(q, 5, it->doc, (int)it->doclen, SQLITE_STATIC);
    sqlite3_bind_int64(q, 6, it->revision);
    return run(s, q, st);
}

static int sq_item_delete(pg_storage *s, int64_t key, pg_status *st)
{
    if (delete_by_key(s, Q_ITEM_DELETE, key, st) < 0)
        return -1;
    return sqlite3_changes(s->db) > 0;
}

static const char *read_item_row(pg_arena *a, sqlite3_stmt *q, void *row, void *ctx)
{
    pg_item_row *it = row;
    it->key = sqlite3_column_int64(q, 0);
    it->gallery_key = *(const int64_t *)ctx;
    copy_id(it->id, q, 1);
    return read_item(a, q, 2, it);
}

static int sq_item_page(pg_storage *s, int64_t gallery_key, int64_t offset, int64_t limit,
                        pg_arena *a, pg_item_row **rows, size_t *n, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, Q_ITEM_PAGE, st);
    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, gallery_key);
    sqlite3_bind_int64(q, 2, limit);
    sqlite3_bind_int64(q, 3, offset);
    return collect(s, q, a, limit, sizeof **rows, read_item_row, &gallery_key, (void **)rows, n, st);
}

static int sq_items_clone(pg_storage *s, int64_t src_key, int64_t dst_key, double first_sort,
                          int64_t now_ms, const char (*ids)[PG_UUID_LEN + 1], size_t nids,
                          int64_t *copied, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, Q_ITEMS_CLONE, st);
    int r;
    if (!q)
        return -1;
    s->clone_ids = ids;
    s->clone_nids = nids;
    sqlite3_bind_int64(q, 1, src_key);
    sqlite3_bind_int64(q, 2, dst_key);
    sqlite3_bind_int64(q, 3, now_ms);
    bind_number(q, 4, first_sort);
    r = run(s, q, st);
    s->clone_ids = NULL;
    s->clone_nids = 0;
    if (r < 0)
        return -1;
    *copied = sqlite3_changes(s->db);
    return 1;
}

/* A batch's ids are read, then the batch deleted at once: read first and deleted
 * after, the rows of a big gallery outgrow SQLite's page cache and each page is read
 * from the file twice (three deletions of 10,000 items: 214 ms in batches against 218
 * ms, then 228 ms against 236 ms, medians of 7 alternating runs). The batch before is
 * gone, so each starts at the gallery's first item. */
static int sq_items_delete_some(pg_storage *s, int64_t gallery_key, char (*ids)[PG_UUID_LEN + 1],
                                size_t max, size_t *n, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, Q_ITEMS_DELETE_FIRST, st);
    int64_t last_key = 0;
    double last_sort = 0;
    int rc = SQLITE_DONE;
    *n = 0;
    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, gallery_key);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)max);
    while (*n < max && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        last_key = sqlite3_column_int64(q, 0);
        copy_id(ids[(*n)++], q, 1);
        last_sort = sqlite3_column_double(q, 2);
    }
    if (finish(s, q, rc, st) < 0)
        return -1;
    if (!*n)
        return 1;
    if (!(q = stmt(s, Q_ITEMS_DELETE_THROUGH, st)))
        return -1;
    sqlite3_bind_int64(q, 1, gallery_key);
    bind_number(q, 2, last_sort);
    sqlite3_bind_int64(q, 3, last_key);
    return run(s, q, st);
}

/* ---- moves -------------------------------------------------------------- */

static const char *read_pos(pg_arena *a, sqlite3_stmt *q, void *row, void *ctx)
{
    pg_item_pos *p = row;
    (void)a;
    (void)ctx;
    p->key = sqlite3_column_int64(q, 0);
    p->sort = sqlite3_column_double(q, 1);
    return NULL;
}

static int sq_item_neighbours(pg_storage *s, int64_t gallery_key, const pg_item_pos *from,
                              int after, int64_t limit, pg_arena *a, pg_item_pos **rows,
                              size_t *n, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, from ? (after ? Q_ITEMS_AFTER : Q_ITEMS_BEFORE)
                                   : (after ? Q_ITEMS_FIRST : Q_ITEMS_LAST), st);
    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, gallery_key);
    if (from) {
        bind_number(q, 2, from->sort);
        sqlite3_bind_int64(q, 3, from->key);
    }
    sqlite3_bind_int64(q, 4, limit);
    return collect(s, q, a, limit, sizeof **rows, read_pos, NULL, (void **)rows, n, st);
}

static int sq_item_move(pg_storage *s, int64_t key, int64_t gallery_key, int other_gallery,
                        double sort, int64_t updated_ms, int64_t revision, pg_status *st)
{
    /* SQLite rewrites an index entry whenever the UPDATE names one of its columns, even
     * to the same value: naming gid would rewrite items_by_created too */
    sqlite3_stmt *q = stmt(s, other_gallery ? Q_ITEM_MOVE : Q_ITEM_REORDER, st);
    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, key);
    sqlite3_bind_int64(q, 2, gallery_key);
    bind_number(q, 3, sort);
    sqlite3_bind_int64(q, 4, updated_ms);
    sqlite3_bind_int64(q, 5, revision);
    return run(s, q, st);
}

static int sq_items_renumber(pg_storage *s, int64_t gallery_key, int64_t now_ms, pg_arena *a,
                             pg_item_row **rows, size_t *n, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, Q_ITEMS_RENUMBER, st);
    size_t cap = 0;
    int rc;
    *rows = NULL;
    *n = 0;
    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, gallery_key);
    sqlite3_bind_int64(q, 2, now_ms);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *problem;
        if (*n == cap) {
            pg_item_row *grown;
            cap = cap ? cap * 2 : 64;
            if (!(grown = pg_arena_alloc(a, cap * sizeof *grown))) {
                finish(s, q, SQLITE_DONE, st);
                return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
            }
            if (*n)
                memcpy(grown, *rows, *n * sizeof *grown);
            *rows = grown;
        }
        if ((problem = read_item_row(a, q, &(*rows)[*n], &gallery_key))) {
            finish(s, q, SQLITE_DONE, st);
            return pg_fail(st, PG_INTERNAL, "%s", problem), -1;
        }
        (*n)++;
    }
    return finish(s, q, rc, st);
}

/* An in-process engine: n lookups cost no more than one query for n. */
static int sq_items_find(pg_storage *s, const char (*ids)[PG_UUID_LEN + 1], size_t n, pg_arena *a,
                         pg_item_row *out, unsigned char *found, pg_status *st)
{
    size_t i;
    for (i = 0; i < n; i++) {
        int f = sq_item_find(s, ids[i], a, &out[i], st);
        if (f < 0)
            return -1;
        found[i] = (unsigned char)f;
    }
    return 1;
}

/* ---- the event feed ------------------------------------------------------ */

static int sq_feed_state(pg_storage *s, int64_t *last_seq, int64_t *pruned_through, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, Q_FEED_STATE, st);
    int rc;
    if (!q)
        return -1;
    rc = sqlite3_step(q);
    *last_seq = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    *pruned_through = rc == SQLITE_ROW ? sqlite3_column_int64(q, 1) : 0;
    if (finish(s, q, rc, st) < 0)
        return -1;
    if (rc != SQLITE_ROW)
        return pg_fail(st, PG_INTERNAL, "database damaged: the event feed's state is missing"), -1;
    return 1;
}

static int set_int(pg_storage *s, int which, int64_t v, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, which, st);
    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, v);
    return run(s, q, st);
}

static int sq_entity_seq_set(pg_storage *s, const char *gallery_id, int64_t seq, pg_status *st);

/* Moves a gallery's entityEventSequence on by n; *first is the
 * sequence of the first of the n (1 for a gallery that is gone: its deletion's events). */
static int entity_add(pg_storage *s, const char *gallery_id, int64_t n, int64_t *first,
                      pg_status *st)
{
    sqlite3_stmt *q;
    int64_t seq = 0;
    int rc, found;
    if (s->found.valid && memcmp(s->found.id, gallery_id, PG_UUID_LEN) == 0) {
        *first = s->found.event_seq + 1;
        if (s->found.touched) {
            if (touch_write(s, s->found.event_seq + n, st) < 0)
                return -1;
            s->found.event_seq += n;
            return 1;
        }
        if (!(q = stmt(s, Q_ENTITY_SET_KEY, st)))
            return -1;
        sqlite3_bind_int64(q, 1, s->found.key);
        sqlite3_bind_int64(q, 2, s->found.event_seq + n);
        if (run(s, q, st) < 0)
            return -1;
        s->found.event_seq += n;
        return 1;
    }
    if (!(q = stmt(s, Q_ENTITY_ADD, st)))
        return -1;
    sqlite3_bind_text(q, 1, gallery_id, PG_UUID_LEN, SQLITE_STATIC);
    rc = sqlite3_step(q);
    found = rc == SQLITE_ROW;
    if (found) {
        seq = sqlite3_column_int64(q, 0);
        rc = sqlite3_step(q);
    }
    if (finish(s, q, rc, st) < 0)
        return -1;
    *first = seq + 1;
    return found ? sq_entity_seq_set(s, gallery_id, seq + n, st) : 1;
}

/* Events share a chunk while they belong to one gallery and one call. */
static int same_chunk(const pg_event_row *a, const pg_event_row *b)
{
    return strcmp(a->gallery_id, b->gallery_id) == 0 && a->time_ms == b->time_ms
           && a->actor == b->actor && a->actor_idlen == b->actor_idlen
           && (a->actor_id == b->actor_id
               || (a->actor_id && b->actor_id && memcmp(a->actor_id, b->actor_id, a->actor_idlen) == 0));
}

#define CHUNK_FAST_BYTES 4096

/* LZ4 of the packed chunk into out (LZ4_compressBound(at) bytes), when that saves an
 * eighth or more; 0 when the chunk is better stored as it is. */
static int chunk_compress(pg_storage *s, const unsigned char *body, size_t at, unsigned char *out)
{
    int c, accel;
    /* One event of a small item is compressed too: at synchronous=NORMAL most of the feed's
     * cost is the checkpoints its bytes bring (measured: a write took 68 us without
     * checkpoints, 136 us with), and LZ4 takes about a sixth off a typical event. */
    if (at < 256 || at > LZ4_MAX_INPUT_SIZE)
        return 0;
    /* A chunk of many events is compressed faster: on the bench's chunks acceleration 4
     * kept the size (a deletion's 71.1% against 69.8% at 1, created items' 5.7% against
     * 5.6%) in half the time or less (10.2 against 24.4 us a deletion chunk, 23 against 46
     * for created items); one event's few matches need the full search (a sixth off, at 4
     * less than the eighth below). */
    accel = at >= CHUNK_FAST_BYTES ? 4 : 1;
    if (!s->lz4)
        s->lz4 = LZ4_createStream(); /* NULL (no memory): the stateless call below */
    if (s->lz4) {
        /* a new, independent block each time: the reset drops the history, so the block
         * decodes alone (LZ4_decompress_safe), and keeps the table, whose old entries it
         * puts out of reach */
        LZ4_resetStream_fast(s->lz4);
        c = LZ4_compress_fast_continue(s->lz4, (const char *)body, (char *)out, (int)at,
                                       LZ4_compressBound((int)at), accel);
    } else
        c = LZ4_compress_fast((const char *)body, (char *)out, (int)at, LZ4_compressBound((int)at), accel);
    return c > 0 && (size_t)c <= at - at / 8 ? c : 0;
}

static int chunk_insert(pg_storage *s, const pg_event_row *rows, size_t n, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, Q_CHUNK_INSERT, st);
    size_t i, size = 0, at = 0, bound;
    unsigned char small[4096]; /* a single event's chunk fits: no malloc for it */
    unsigned char *body;
    int r, packed;
    if (!q)
        return -1;
    for (i = 0; i < n; i++)
        size += pg_event_packed_size(&rows[i]);
    /* one block: the packed chunk, then room for its compressed form */
    bound = size <= LZ4_MAX_INPUT_SIZE ? (size_t)LZ4_compressBound((int)size) : 0;
    body = size + bound + 1 <= sizeof small ? small : malloc(size + bound + 1);
    if (!body)
        return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
    for (i = 0; i < n; i++)
        at += pg_event_pack(body + at, &rows[i]);
    packed = chunk_compress(s, body, at, body + size);
    sqlite3_bind_int64(q, 1, rows[n - 1].seq);
    sqlite3_bind_int64(q, 2, rows[0].seq);
    sqlite3_bind_text(q, 3, rows[0].gallery_id, PG_UUID_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, rows[0].entity_seq);
    sqlite3_bind_int64(q, 5, rows[0].time_ms);
    sqlite3_bind_int(q, 6, rows[0].actor);
    bind_text(q, 7, rows[0].actor_id, rows[0].actor_idlen);
    if (packed) {
        sqlite3_bind_blob(q, 8, body + size, packed, SQLITE_STATIC);
        sqlite3_bind_int64(q, 9, (sqlite3_int64)at);
    } else {
        sqlite3_bind_blob(q, 8, body, (int)at, SQLITE_STATIC);
        sqlite3_bind_null(q, 9);
    }
    r = run(s, q, st);
    if (body != small)
        free(body);
    return r;
}

/* The packed body of the chunk at q's current row: the column itself, or *scratch
 * (malloc'd, the caller frees it) holding it unpacked. NULL: damaged, or out of
 * memory (*oom set). */
static const unsigned char *chunk_body(sqlite3_stmt *q, unsigned char **scratch, size_t *n, int *oom)
{
    const unsigned char *p = sqlite3_column_blob(q, 7);
    int bytes = sqlite3_column_bytes(q, 7);
    sqlite3_int64 raw;
    *scratch = NULL;
    *oom = 0;
    if (sqlite3_column_type(q, 8) == SQLITE_NULL) {
        *n = (size_t)bytes;
        return p;
    }
    raw = sqlite3_column_int64(q, 8);
    /* LZ4 expands at most 255-fold: a larger raw_size is damage, not a huge malloc */
    if (!p || bytes <= 0 || raw <= 0 || raw > LZ4_MAX_INPUT_SIZE || raw > (sqlite3_int64)bytes * 255 + 64)
        return NULL;
    if (!(*scratch = malloc((size_t)raw))) {
        *oom = 1;
        return NULL;
    }
    if (LZ4_decompress_safe((const char *)p, (char *)*scratch, bytes, (int)raw) != (int)raw)
        return NULL;
    *n = (size_t)raw;
    return *scratch;
}

static int sq_event_append(pg_storage *s, pg_event_row *rows, size_t n, pg_status *st)
{
    int64_t last, pruned, eseq = 0;
    size_t i = 0, j;
    unsigned version;
    if (n == 0)
        return 1;
    if (s->feed.pending && !s->feed.other)
        last = s->feed.last_pending;
    else if (s->feed.known && !s->feed.other && data_version(s, &version) && version == s->feed.version)
        last = s->feed.last;
    else if (sq_feed_state(s, &last, &pruned, st) < 0)
        return -1;
    while (i < n) {
        /* a run of one gallery: its counter read and written once */
        size_t end = i + 1;
        while (end < n && same_chunk(&rows[end], &rows[i]))
            end++;
        if (entity_add(s, rows[i].gallery_id, (int64_t)(end - i), &eseq, st) < 0)
            return -1;
        for (j = i; j < end; j++) {
            rows[j].seq = ++last;
            rows[j].entity_seq = eseq++;
        }
        for (j = i; j < end; j += PG_CHUNK_EVENTS)
            if (chunk_insert(s, &rows[j], end - j < PG_CHUNK_EVENTS ? end - j : PG_CHUNK_EVENTS, st) < 0)
                return -1;
        i = end;
    }
    s->feed.pending = 1;
    s->feed.last_pending = last;
    return 1;
}

/* Unpacks the chunk at the current row of q, whose packed body is p (left bytes),
 * into rows[*n...], skipping seq <= after, up to limit rows. NULL, or why the chunk
 * is not readable. */
static const char *unpack_chunk(pg_arena *a, sqlite3_stmt *q, const unsigned char *p, size_t left,
                                int64_t after, int64_t limit, pg_event_row *rows, size_t *n)
{
    int64_t last = sqlite3_column_int64(q, 0), seq = sqlite3_column_int64(q, 1);
    int64_t eseq = sqlite3_column_int64(q, 3), time_ms = sqlite3_column_int64(q, 4);
    int actor = sqlite3_column_int(q, 5);
    const char *actor_id = NULL;
    size_t actor_idlen = 0, used;
    if (actor < PG_ACTOR_WIX_USER || actor > PG_ACTOR_VISITOR || !pg_date_ok(time_ms) || last < seq)
        return "database damaged: an event chunk is not readable";
    if (sqlite3_column_type(q, 6) != SQLITE_NULL && !(actor_id = col_text(a, q, 6, &actor_idlen)))
        return "out of memory";
    for (; seq <= last && (int64_t)*n < limit; seq++, eseq++) {
        pg_event_row *e = &rows[*n];
        int oom = 0;
        if (!(used = pg_event_unpack(p, left, a, e, &oom)))
            return oom ? "out of memory" : "database damaged: an event chunk is not readable";
        p += used;
        left -= used;
        if (seq <= after)
            continue;
        e->seq = seq;
        e->entity_seq = eseq;
        copy_id(e->gallery_id, q, 2);
        e->time_ms = time_ms;
        e->actor = actor;
        e->actor_id = actor_id;
        e->actor_idlen = actor_idlen;
        if (e->kind != PG_EV_GALLERY_DELETED && e->kind != PG_EV_ITEM_DELETED
            && check_dates(e->created_ms, e->updated_ms))
            return check_dates(e->created_ms, e->updated_ms);
        if ((e->kind == PG_EV_ITEM_CREATED || e->kind == PG_EV_ITEM_UPDATED) && !e->doc)
            return "database damaged: an item event has no item";
        (*n)++;
    }
    return NULL;
}

static const char *read_chunk(pg_arena *a, sqlite3_stmt *q, int64_t after, int64_t limit,
                              pg_event_row *rows, size_t *n)
{
    unsigned char *scratch;
    size_t left;
    int oom;
    const unsigned char *p = chunk_body(q, &scratch, &left, &oom);
    const char *problem = p ? unpack_chunk(a, q, p, left, after, limit, rows, n)
                          : oom ? "out of memory" : "database damaged: an event chunk is not readable";
    free(scratch);
    return problem;
}

static int sq_event_page(pg_storage *s, int64_t after, int64_t limit, pg_arena *a,
                         pg_event_row **rows, size_t *n, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, Q_CHUNK_PAGE, st);
    int rc = SQLITE_DONE;
    *rows = NULL;
    *n = 0;
    if (!q)
        return -1;
    if (limit <= 0)
        return 1;
    if (!(*rows = pg_arena_alloc(a, (size_t)limit * sizeof **rows)))
        return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
    sqlite3_bind_int64(q, 1, after);
    while ((int64_t)*n < limit && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *problem = read_chunk(a, q, after, limit, *rows, n);
        if (problem) {
            finish(s, q, SQLITE_DONE, st);
            return pg_fail(st, PG_INTERNAL, "%s", problem), -1;
        }
    }
    return finish(s, q, rc == SQLITE_ROW ? SQLITE_DONE : rc, st);
}

static int sq_event_prune(pg_storage *s, int64_t through_ms, int64_t max_rows, int64_t *removed,
                          int64_t *next_ms, int *blocked, pg_status *st)
{
    sqlite3_stmt *q;
    double min_cursor = 0;
    int has_cursor, rc;
    int64_t through = 0, last, pruned, n = 0;
    s->feed.other = 1;
    *removed = 0;
    *next_ms = -1;
    *blocked = 0;
    if (scalar(s, Q_CURSOR_MIN, 0, &min_cursor, &has_cursor, st) < 0)
        return -1;
    if (!(q = stmt(s, Q_CHUNK_OLDEST, st)))
        return -1;
    sqlite3_bind_int64(q, 1, max_rows + 1);
    /* only a prefix of the feed goes, so pruned_through says exactly what is gone */
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(q, 0), t = sqlite3_column_int64(q, 1);
        if (t > through_ms || (has_cursor && (double)seq > min_cursor) || n == max_rows) {
            *next_ms = t;
            *blocked = t <= through_ms;
            break;
        }
        through = seq;
        n++;
    }
    if (finish(s, q, rc == SQLITE_ROW ? SQLITE_DONE : rc, st) < 0)
        return -1;
    *removed = n;
    if (through == 0)
        return 1;
    if (sq_feed_state(s, &last, &pruned, st) < 0
        || set_int(s, Q_CHUNK_DELETE_THROUGH, through, st) < 0)
        return -1;
    return through > pruned ? set_int(s, Q_FEED_SET_PRUNED, through, st) : 1;
}

static int sq_cursor_get(pg_storage *s, const char *name, size_t len, int64_t *seq, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, Q_CURSOR_GET, st);
    int rc;
    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, name, (int)len, SQLITE_STATIC);
    rc = sqlite3_step(q);
    *seq = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    if (finish(s, q, rc, st) < 0)
        return -1;
    return rc == SQLITE_ROW;
}

static int sq_cursor_set(pg_storage *s, const char *name, size_t len, int64_t seq, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, Q_CURSOR_SET, st);
    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, name, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, seq);
    return run(s, q, st);
}

static int sq_lease_take(pg_storage *s, const char *name, size_t len, const char *holder,
                         size_t holderlen, int64_t now_ms, int64_t until_ms, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, Q_LEASE_TAKE, st);
    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, name, (int)len, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, holder, (int)holderlen, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, now_ms);
    sqlite3_bind_int64(q, 4, until_ms);
    if (run(s, q, st) < 0)
        return -1;
    return sqlite3_changes(s->db) > 0;
}

/* ---- moving a feed (progallery export / import) --------------------------- */

static int sq_cursor_page(pg_storage *s, const char *after, size_t afterlen, int64_t limit,
                          pg_arena *a, pg_cursor_row **rows, size_t *n, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, Q_CURSOR_PAGE, st);
    int rc = SQLITE_DONE;
    *n = 0;
    if (!q)
        return -1;
    if (!(*rows = pg_arena_alloc(a, (size_t)(limit > 0 ? limit : 1) * sizeof **rows)))
        return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
    bind_text(q, 1, after ? after : "", after ? afterlen : 0);
    sqlite3_bind_int64(q, 2, limit);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        pg_cursor_row *c = &(*rows)[(*n)++];
        if (!(c->name = col_text(a, q, 0, &c->namelen))) {
            sqlite3_reset(q);
            return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
        }
        c->seq = sqlite3_column_int64(q, 1);
    }
    return finish(s, q, rc, st);
}

static int sq_entity_seq_page(pg_storage *s, const char *after, int64_t limit, pg_arena *a,
                              pg_entity_seq_row **rows, size_t *n, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, Q_ENTITY_PAGE, st);
    int rc = SQLITE_DONE;
    *n = 0;
    if (!q)
        return -1;
    if (!(*rows = pg_arena_alloc(a, (size_t)(limit > 0 ? limit : 1) * sizeof **rows)))
        return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
    bind_text(q, 1, after ? after : "", after ? strlen(after) : 0);
    sqlite3_bind_int64(q, 2, limit);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        pg_entity_seq_row *e = &(*rows)[(*n)++];
        copy_id(e->gallery_id, q, 0);
        e->seq = sqlite3_column_int64(q, 1);
    }
    return finish(s, q, rc, st);
}

static int sq_entity_seq_set(pg_storage *s, const char *gallery_id, int64_t seq, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, Q_ENTITY_SET, st);
    if (!q)
        return -1;
    if (memcmp(s->found.id, gallery_id, PG_UUID_LEN) == 0)
        s->found.valid = 0;
    sqlite3_bind_text(q, 1, gallery_id, PG_UUID_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, seq);
    return run(s, q, st);
}

/* The last seq is the last chunk's, or pruned_through when there is none. */
static int sq_feed_restore(pg_storage *s, int64_t pruned_through, pg_status *st)
{
    s->feed.other = 1;
    return set_int(s, Q_FEED_SET_PRUNED, pruned_through, st);
}

/* Restored events share a chunk as appended ones do, and only while their seqs and
 * entity seqs run on one by one (a chunk stores its first of each). */
static int sq_event_restore(pg_storage *s, const pg_event_row *rows, size_t n, pg_status *st)
{
    size_t i = 0;
    s->feed.other = 1;
    while (i < n) {
        size_t end = i + 1;
        while (end < n && end - i < PG_CHUNK_EVENTS && same_chunk(&rows[end], &rows[i])
               && rows[end].seq == rows[end - 1].seq + 1
               && rows[end].entity_seq == rows[end - 1].entity_seq + 1)
            end++;
        if (chunk_insert(s, &rows[i], end - i, st) < 0)
            return -1;
        i = end;
    }
    return 1;
}

/* ---- queries (spec section 14) ------------------------------------------------
 * A parsed query becomes one SELECT (query_sql.c), in SQLite's words below: every
 * value a bound parameter, ?N. Its text depends only on the query's shape, so its
 * statement is prepared once and kept (qcache). */

static const char *sq_column(pg_query_field f, int items, int sorting)
{
    switch (f) {
    case PG_QF_TYPE: return "type";
    case PG_QF_TITLE: return "json_extract(doc, '$.title')";
    case PG_QF_CREATED: return "created_ms";
    case PG_QF_UPDATED: return "updated_ms";
    case PG_QF_SORT: return "sort_order";
    case PG_QF_NAME: return sorting ? "coalesce(name, '')" : "name";
    case PG_QF_KEY: return items ? "iid" : "gid";
    case PG_QF_TAGS: break;
    }
    return "NULL";
}

/* ?N; the value is bound from b->ud's array when the statement is run */
static int sq_param(pg_sql_build *b, int n, pg_query_field f, const pg_query_val *v)
{
    char num[16];
    (void)f;
    ((const pg_query_val **)b->ud)[n - 1] = v;
    snprintf(num, sizeof num, "?%d", n);
    pg_sql_add(b, num);
    return 1;
}

/* substr and length count characters alike: no LIKE, whose % and _ are wildcards and
 * whose ASCII letters match either case */
static int sq_starts_with(pg_sql_build *b, pg_query_field f, const char *column, const pg_query_val *v)
{
    char num[24];
    int p;
    pg_sql_add(b, "(substr(");
    pg_sql_add(b, column);
    pg_sql_add(b, ", 1, length(");
    if (!(p = pg_sql_param(b, f, v)))
        return 0;
    snprintf(num, sizeof num, ")) = ?%d)", p);
    pg_sql_add(b, num);
    return 1;
}

static const pg_sql_dialect sq_dialect = {
    .true_sql = "1",
    .false_sql = "0",
    .ne = " IS NOT ",
    .select_items = "SELECT " ITEM_ROW " FROM items WHERE gid = ",
    .select_galleries = "SELECT " GALLERY_ROW " FROM galleries WHERE 1",
    .has_some = "EXISTS (SELECT 1 FROM json_each(doc, '$.tags.values') WHERE value IN ",
    .has_all = "((SELECT count(DISTINCT value) FROM json_each(doc, '$.tags.values') WHERE value IN ",
    .column = sq_column,
    .param = sq_param,
    .starts_with = sq_starts_with,
};

/* The prepared statement of this SQL text: kept, or prepared now in place of the
 * least recently used. */
static sqlite3_stmt *cached(pg_storage *s, const char *text, size_t len, pg_status *st)
{
    int i, victim = 0, rc;
    for (i = 0; i < QUERY_CACHE; i++) {
        if (s->qcache[i].text && strlen(s->qcache[i].text) == len
            && memcmp(s->qcache[i].text, text, len) == 0) {
            s->qcache[i].used = ++s->qclock;
            return s->qcache[i].q;
        }
        if (s->qcache[i].used < s->qcache[victim].used)
            victim = i;
    }
    sqlite3_finalize(s->qcache[victim].q);
    free(s->qcache[victim].text);
    s->qcache[victim].q = NULL;
    s->qcache[victim].used = 0;
    if (!(s->qcache[victim].text = malloc(len + 1))) {
        pg_fail(st, PG_INTERNAL, "out of memory");
        return NULL;
    }
    memcpy(s->qcache[victim].text, text, len);
    s->qcache[victim].text[len] = '\0';
    rc = sqlite3_prepare_v3(s->db, text, (int)len, SQLITE_PREPARE_PERSISTENT, &s->qcache[victim].q,
                            NULL);
    if (rc != SQLITE_OK) {
        free(s->qcache[victim].text);
        s->qcache[victim].text = NULL;
        fail_db(s, rc, st);
        return NULL;
    }
    s->qcache[victim].used = ++s->qclock;
    return s->qcache[victim].q;
}

/* The query's statement with its values bound (numbers by value, strings from q's own
 * memory), or NULL with st set. */
static sqlite3_stmt *query_stmt(pg_storage *s, const pg_query *q, int items, int64_t gallery_key,
                                int64_t limit, pg_status *st)
{
    const pg_query_val *binds[PG_SQL_MAX_PARAMS];
    char stack[1024];
    pg_sql_build b;
    sqlite3_stmt *stm;
    int i;
    b.d = &sq_dialect;
    b.ud = binds;
    pg_strbuf_init(&b.sql, stack, sizeof stack);
    if (!pg_sql_compile(&b, q, items, gallery_key, limit)) {
        pg_strbuf_free(&b.sql);
        pg_fail(st, PG_INTERNAL, "out of memory");
        return NULL;
    }
    stm = cached(s, b.sql.buf, b.sql.len, st);
    pg_strbuf_free(&b.sql);
    if (!stm)
        return NULL;
    for (i = 1; i <= b.nparams; i++) {
        const pg_query_val *v = binds[i - 1];
        if (v->is_num)
            bind_number(stm, i, v->n);
        else
            sqlite3_bind_text(stm, i, v->s, (int)v->len, SQLITE_STATIC);
    }
    return stm;
}

static int sq_item_query(pg_storage *s, int64_t gallery_key, const pg_query *q, int64_t limit,
                         pg_arena *a, pg_item_row **rows, size_t *n, pg_status *st)
{
    sqlite3_stmt *stm = query_stmt(s, q, 1, gallery_key, limit, st);
    if (!stm)
        return -1;
    return collect(s, stm, a, limit, sizeof **rows, read_item_row, &gallery_key, (void **)rows, n, st);
}

static int sq_gallery_query(pg_storage *s, const pg_query *q, int64_t limit, pg_arena *a,
                            pg_gallery_row **rows, size_t *n, pg_status *st)
{
    sqlite3_stmt *stm = query_stmt(s, q, 0, 0, limit, st);
    if (!stm)
        return -1;
    return collect(s, stm, a, limit, sizeof **rows, read_gallery_row, NULL, (void **)rows, n, st);
}

static int sq_query_secret(pg_storage *s, unsigned char out[PG_QUERY_SECRET_LEN], pg_status *st)
{
    sqlite3_stmt *q = stmt(s, Q_SECRET, st);
    int rc, ok = 0;
    if (!q)
        return -1;
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(q, 0) == PG_QUERY_SECRET_LEN) {
        memcpy(out, sqlite3_column_blob(q, 0), PG_QUERY_SECRET_LEN);
        ok = 1;
    }
    if (finish(s, q, rc, st) < 0)
        return -1;
    return ok ? 1 : (pg_fail(st, PG_INTERNAL, "database damaged: the cursor secret is missing"), -1);
}

const pg_storage_ops pg_sqlite_ops = {
    .name = "sqlite",
    .version = PG_STORAGE_VERSION,
    .open = sq_open,
    .close = sq_close,
    .begin = sq_begin,
    .data_version = sq_data_version,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .gallery_find = sq_gallery_find,
    .gallery_insert = sq_gallery_insert,
    .gallery_update = sq_gallery_update,
    .gallery_delete = sq_gallery_delete,
    .gallery_count = sq_gallery_count,
    .gallery_max_sort = sq_gallery_max_sort,
    .gallery_page = sq_gallery_page,
    .item_find = sq_item_find,
    .item_insert = sq_item_insert,
    .item_update = sq_item_update,
    .item_delete = sq_item_delete,
    .item_max_sort = sq_item_max_sort,
    .item_page = sq_item_page,
    .items_clone = sq_items_clone,
    .items_delete_some = sq_items_delete_some,
    .event_append = sq_event_append,
    .event_page = sq_event_page,
    .feed_state = sq_feed_state,
    .event_prune = sq_event_prune,
    .cursor_get = sq_cursor_get,
    .cursor_set = sq_cursor_set,
    .lease_take = sq_lease_take,
    .cursor_page = sq_cursor_page,
    .entity_seq_page = sq_entity_seq_page,
    .entity_seq_set = sq_entity_seq_set,
    .feed_restore = sq_feed_restore,
    .event_restore = sq_event_restore,
    .item_query = sq_item_query,
    .gallery_query = sq_gallery_query,
    .query_secret = sq_query_secret,
    .item_neighbours = sq_item_neighbours,
    .item_move = sq_item_move,
    .items_renumber = sq_items_renumber,
    .items_find = sq_items_find,
};
