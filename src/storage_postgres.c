/* PostgreSQL engine of the storage interface, through libpq. All of its SQL
 * lives here.
 *
 * A store holds a connection for one call only: it takes an idle one of the process
 * with the same settings (pq_pool.c) or makes one, and gives it back when the call
 * ends, so that a process holds as many connections as it runs calls at once, not one
 * per store (nginx makes a Lua VM, so a store, per task queued for its thread pool).
 * Statements are prepared on first use on each connection (its backend knows them from
 * then on; a new backend knows none). Reads run in REPEATABLE READ
 * READ ONLY (one snapshot per call); writes in READ COMMITTED, made exact by
 * the isolation contract of storage.h: the gallery a write finds is locked
 * (FOR UPDATE), the galleries-wide default sort is taken under an advisory
 * lock, the feed's seq under the feed row's lock (held from the append to the
 * commit, so seq order is commit order), and every write transaction bumps one
 * of CHANGE_SLOTS counters, whose sum is data_version (transactional, so it
 * moves exactly when the commit becomes visible, and it is replicated).
 *
 * Failures (spec section 11): a lost connection has no SQLSTATE, only
 * PQstatus() == CONNECTION_BAD: UNAVAILABLE; the lost connection and the idle
 * ones of its settings are closed, and the next call connects anew (the same
 * conninfo, so a multi-host dsn with target_session_attrs=read-write finds a
 * promoted standby). A COMMIT whose
 * answer never came is UNAVAILABLE with "outcome unknown" in the message: the
 * one failure after which the write may have happened. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events.h"
#include "pq_pool.h"
#include "query_sql.h"
#include "storage.h"
#include "strbuf.h"

/* 3: the tables, the REST documents and the feed; 4: revisions; 5: the indexes of
 * queries and the secret of their cursors (spec section 14); 6: the count of galleries kept */
#define SCHEMA_VERSION 6
#define CHANGE_SLOTS 16
#define QUERY_CACHE 16 /* query statements a connection keeps prepared, by SQL text */
/* pg_advisory_xact_lock keys (any constants private to progallery) */
#define LOCK_MIGRATE "7135016201"
#define LOCK_GALLERIES "7135016202"

static const char *const schema_sql =
    "CREATE TABLE IF NOT EXISTS galleries("
    "  gid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  id text NOT NULL UNIQUE,"
    "  name text,"
    "  sort_order double precision NOT NULL,"
    "  created_ms bigint NOT NULL,"
    "  updated_ms bigint NOT NULL,"
    "  item_count bigint NOT NULL DEFAULT 0,"
    "  event_seq bigint NOT NULL DEFAULT 0,"
    "  revision bigint NOT NULL DEFAULT 1);"
    "CREATE INDEX IF NOT EXISTS galleries_by_created ON galleries(created_ms, gid);"
    "CREATE TABLE IF NOT EXISTS items("
    "  iid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY," /* creation order: breaks ties */
    "  id text NOT NULL UNIQUE,"
    "  gid bigint NOT NULL,"
    "  sort_order double precision NOT NULL,"
    "  type text NOT NULL,"
    "  created_ms bigint NOT NULL,"
    "  updated_ms bigint NOT NULL,"
    "  doc text NOT NULL,"
    "  revision bigint NOT NULL DEFAULT 1);"
    "CREATE INDEX IF NOT EXISTS items_by_order ON items(gid, sort_order, iid);"
    "CREATE TABLE IF NOT EXISTS feed("
    "  one int PRIMARY KEY CHECK (one = 1),"
    "  last_seq bigint NOT NULL,"
    "  pruned_through bigint NOT NULL);"
    "INSERT INTO feed VALUES (1, 0, 0) ON CONFLICT DO NOTHING;"
    "CREATE TABLE IF NOT EXISTS event_chunks("
    "  last_seq bigint PRIMARY KEY,"
    "  first_seq bigint NOT NULL,"
    "  gallery_id text NOT NULL,"
    "  first_entity_seq bigint NOT NULL,"
    "  time_ms bigint NOT NULL,"
    "  actor int NOT NULL,"
    "  actor_id text,"
    "  body bytea NOT NULL);"
    "CREATE TABLE IF NOT EXISTS event_cursors(name text PRIMARY KEY, seq bigint NOT NULL);"
    "CREATE TABLE IF NOT EXISTS event_leases(name text PRIMARY KEY, holder text NOT NULL,"
    "  until_ms bigint NOT NULL);"
    "CREATE TABLE IF NOT EXISTS progallery_changes(slot int PRIMARY KEY, n bigint NOT NULL);"
    "INSERT INTO progallery_changes SELECT g, 0 FROM generate_series(0, 15) g ON CONFLICT DO NOTHING;"
    /* 4: a database of version 3 has the tables without the revisions: its rows start at 1 */
    "ALTER TABLE galleries ADD COLUMN IF NOT EXISTS revision bigint NOT NULL DEFAULT 1;"
    "ALTER TABLE items ADD COLUMN IF NOT EXISTS revision bigint NOT NULL DEFAULT 1;"
    /* 5: queries (spec section 14): an index per sort field, read from the cursor's
     * position on (the name sort in bytes, COLLATE "C", as SQLite and Lua compare);
     * the secret that signs cursors, made once per store (gen_random_uuid: a strong
     * random source of the server, in core since PostgreSQL 13) */
    "CREATE INDEX IF NOT EXISTS items_by_created ON items(gid, created_ms, iid);"
    "CREATE INDEX IF NOT EXISTS items_by_updated ON items(gid, updated_ms, iid);"
    "CREATE INDEX IF NOT EXISTS galleries_by_name ON galleries(name);"
    "CREATE INDEX IF NOT EXISTS galleries_by_name_sort ON galleries((coalesce(name, '') COLLATE \"C\"), gid);"
    "CREATE TABLE IF NOT EXISTS progallery_secrets(name text PRIMARY KEY, value bytea NOT NULL);"
    "INSERT INTO progallery_secrets VALUES ('cursor', decode(replace(gen_random_uuid()::text"
    " || gen_random_uuid()::text, '-', ''), 'hex')) ON CONFLICT DO NOTHING;"
    /* 6: listGalleries' totalGalleries from a kept count: count(*) reads every gallery's
     * row or index entry. A trigger keeps it, whatever inserts or deletes the row; it
     * names the table's own schema, so that a site's schema (API.md section 14) counts
     * its own galleries whatever the session's search_path. The count is a column of
     * the feed's one row, not a row of its own: a deletion appends its events (the feed
     * row locked to the commit) before it deletes the gallery, a creation inserts the
     * gallery before it appends; two rows taken in those two orders would deadlock, one
     * row cannot. SHARE: no gallery comes or goes between the count and the commit. */
    "ALTER TABLE feed ADD COLUMN IF NOT EXISTS galleries bigint;"
    "LOCK TABLE galleries IN SHARE MODE;"
    "UPDATE feed SET galleries = (SELECT count(*) FROM galleries) WHERE one = 1;"
    "CREATE OR REPLACE FUNCTION progallery_count_galleries() RETURNS trigger LANGUAGE plpgsql AS $f$"
    " BEGIN EXECUTE format('UPDATE %I.feed SET galleries = galleries + $1 WHERE one = 1',"
    " TG_TABLE_SCHEMA) USING CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END; RETURN NULL; END $f$;"
    "CREATE OR REPLACE TRIGGER galleries_counted AFTER INSERT OR DELETE ON galleries"
    "  FOR EACH ROW EXECUTE FUNCTION progallery_count_galleries();";

enum {
    Q_BEGIN_READ, Q_BEGIN_WRITE, Q_COMMIT, Q_ROLLBACK, Q_DATA_VERSION, Q_BUMP,
    Q_GALLERY_FIND, Q_GALLERY_FIND_LOCK, Q_GALLERY_INSERT, Q_GALLERY_UPDATE, Q_GALLERY_DELETE_ITEMS,
    Q_GALLERY_DELETE, Q_GALLERY_COUNT, Q_GALLERIES_LOCK, Q_GALLERY_MAX_SORT, Q_GALLERY_PAGE,
    Q_ITEM_FIND, Q_ITEM_INSERT, Q_ITEM_UPDATE, Q_ITEM_DELETE, Q_ITEM_MAX_SORT, Q_ITEM_PAGE,
    Q_ITEMS_CLONE, Q_ITEMS_DELETE_SOME,
    Q_FEED_STATE, Q_FEED_TAKE, Q_FEED_SET_PRUNED, Q_CHUNK_INSERT, Q_ENTITY_ADD,
    Q_CHUNK_PAGE, Q_CHUNK_OLDEST, Q_CHUNK_DELETE_THROUGH,
    Q_CURSOR_MIN, Q_CURSOR_GET, Q_CURSOR_SET, Q_LEASE_TAKE,
    /* moving a feed (export / import) */
    Q_CURSOR_PAGE, Q_ENTITY_PAGE, Q_ENTITY_SET, Q_FEED_RESTORE, Q_FEED_RESTORED,
    Q_SECRET,
    /* moves */
    Q_ITEMS_AFTER, Q_ITEMS_BEFORE, Q_ITEMS_FIRST, Q_ITEMS_LAST, Q_ITEM_MOVE, Q_ITEMS_RENUMBER,
    Q_ITEMS_FIND,
    Q_COUNT
};

/* The columns of a listed row, in the order read_item_row / read_gallery_row read them:
 * every statement that lists rows names them through these. */
#define ITEM_ROW "iid, id, type, sort_order, created_ms, updated_ms, doc, revision"
#define GALLERY_ROW "gid, id, name, sort_order, created_ms, updated_ms, item_count, revision"

static const char *const sql[Q_COUNT] = {
    [Q_BEGIN_READ] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    [Q_BEGIN_WRITE] = "BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_DATA_VERSION] = "SELECT sum(n)::bigint FROM progallery_changes",
    [Q_BUMP] = "UPDATE progallery_changes SET n = n + 1 WHERE slot = $1",
    [Q_GALLERY_FIND] = "SELECT gid, name, sort_order, created_ms, updated_ms, item_count, revision"
                       " FROM galleries WHERE id = $1",
    [Q_GALLERY_FIND_LOCK] = "SELECT gid, name, sort_order, created_ms, updated_ms, item_count,"
                            " revision FROM galleries WHERE id = $1 FOR UPDATE",
    [Q_GALLERY_INSERT] = "INSERT INTO galleries(id, name, sort_order, created_ms, updated_ms,"
                         " item_count, revision) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING gid",
    [Q_GALLERY_UPDATE] = "UPDATE galleries SET name = $2, sort_order = $3, updated_ms = $4,"
                         " item_count = $5, revision = $6 WHERE gid = $1",
    [Q_GALLERY_DELETE_ITEMS] = "DELETE FROM items WHERE gid = $1",
    [Q_GALLERY_DELETE] = "DELETE FROM galleries WHERE gid = $1",
    [Q_GALLERY_COUNT] = "SELECT galleries FROM feed WHERE one = 1", /* schema 6 */
    /* two statements: READ COMMITTED takes a statement's snapshot before it waits for the
     * lock, so the max must be read by the next one (which sees the last holder's commit) */
    [Q_GALLERIES_LOCK] = "SELECT pg_advisory_xact_lock(" LOCK_GALLERIES ")",
    [Q_GALLERY_MAX_SORT] = "SELECT max(sort_order) FROM galleries",
    [Q_GALLERY_PAGE] = "SELECT " GALLERY_ROW " FROM galleries ORDER BY created_ms, gid LIMIT $1 OFFSET $2",
    [Q_ITEM_FIND] = "SELECT iid, gid, type, sort_order, created_ms, updated_ms, doc, revision"
                    " FROM items WHERE id = $1",
    [Q_ITEM_INSERT] = "INSERT INTO items(id, gid, sort_order, type, created_ms, updated_ms, doc,"
                      " revision) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    [Q_ITEM_UPDATE] = "UPDATE items SET sort_order = $2, type = $3, updated_ms = $4, doc = $5,"
                      " revision = $6 WHERE iid = $1",
    [Q_ITEM_DELETE] = "DELETE FROM items WHERE iid = $1",
    [Q_ITEM_MAX_SORT] = "SELECT max(sort_order) FROM items WHERE gid = $1",
    [Q_ITEM_PAGE] = "SELECT " ITEM_ROW " FROM items WHERE gid = $1 ORDER BY sort_order, iid LIMIT $2 OFFSET $3",
    /* one statement; the n-th copy takes the n-th id of the array the caller made */
    [Q_ITEMS_CLONE] = "INSERT INTO items(id, gid, sort_order, type, created_ms, updated_ms, doc)"
                      " SELECT ($5::text[])[rn], $2, $4 + rn - 1, type, $3, $3, doc FROM"
                      " (SELECT row_number() OVER (ORDER BY sort_order, iid) AS rn, type, doc"
                      " FROM items WHERE gid = $1) s ORDER BY rn",
    /* a batch of the deletion's events' worth (items_delete_some) */
    [Q_ITEMS_DELETE_SOME] = "DELETE FROM items WHERE iid IN"
                            " (SELECT iid FROM items WHERE gid = $1 LIMIT $2) RETURNING id",
    [Q_FEED_STATE] = "SELECT last_seq, pruned_through FROM feed WHERE one = 1",
    /* takes n seqs; the row stays locked to the commit: seq order is commit order */
    [Q_FEED_TAKE] = "UPDATE feed SET last_seq = last_seq + $1 WHERE one = 1 RETURNING last_seq - $1",
    [Q_FEED_SET_PRUNED] = "UPDATE feed SET pruned_through = greatest(pruned_through, $1) WHERE one = 1",
    [Q_CHUNK_INSERT] = "INSERT INTO event_chunks(last_seq, first_seq, gallery_id, first_entity_seq,"
                       " time_ms, actor, actor_id, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    /* a gallery deleted in this call is gone: its events count from 0 then */
    [Q_ENTITY_ADD] = "UPDATE galleries SET event_seq = event_seq + $2 WHERE id = $1"
                     " RETURNING event_seq - $2",
    [Q_CHUNK_PAGE] = "SELECT last_seq, first_seq, gallery_id, first_entity_seq, time_ms, actor, actor_id,"
                     " body FROM event_chunks WHERE last_seq > $1 ORDER BY last_seq LIMIT $2",
    [Q_CHUNK_OLDEST] = "SELECT last_seq, time_ms FROM event_chunks ORDER BY last_seq LIMIT $1",
    [Q_CHUNK_DELETE_THROUGH] = "DELETE FROM event_chunks WHERE last_seq <= $1",
    [Q_CURSOR_MIN] = "SELECT min(seq) FROM event_cursors",
    [Q_CURSOR_GET] = "SELECT seq FROM event_cursors WHERE name = $1",
    [Q_CURSOR_SET] = "INSERT INTO event_cursors(name, seq) VALUES ($1, $2)"
                     " ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
    [Q_LEASE_TAKE] = "INSERT INTO event_leases(name, holder, until_ms) VALUES ($1, $2, $4)"
                     " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
                     " until_ms = excluded.until_ms"
                     " WHERE event_leases.holder = excluded.holder OR event_leases.until_ms <= $3",
    /* names are never empty: '' comes before every one */
    [Q_CURSOR_PAGE] = "SELECT name, seq FROM event_cursors WHERE name > $1 ORDER BY name LIMIT $2",
    [Q_ENTITY_PAGE] = "SELECT id, event_seq FROM galleries WHERE id > $1 AND event_seq <> 0"
                      " ORDER BY id LIMIT $2",
    [Q_ENTITY_SET] = "UPDATE galleries SET event_seq = $2 WHERE id = $1",
    [Q_FEED_RESTORE] = "UPDATE feed SET pruned_through = $1, last_seq = $1 WHERE one = 1",
    [Q_FEED_RESTORED] = "UPDATE feed SET last_seq = greatest(last_seq, $1) WHERE one = 1",
    [Q_SECRET] = "SELECT encode(value, 'hex') FROM progallery_secrets WHERE name = 'cursor'",
    /* a gallery's order is (sort_order, iid), the index items_by_order */
    [Q_ITEMS_AFTER] = "SELECT iid, sort_order FROM items WHERE gid = $1"
                      " AND (sort_order, iid) > ($2::double precision, $3::bigint)"
                      " ORDER BY sort_order, iid LIMIT $4",
    [Q_ITEMS_BEFORE] = "SELECT iid, sort_order FROM items WHERE gid = $1"
                       " AND (sort_order, iid) < ($2::double precision, $3::bigint)"
                       " ORDER BY sort_order DESC, iid DESC LIMIT $4",
    [Q_ITEMS_FIRST] = "SELECT iid, sort_order FROM items WHERE gid = $1"
                      " ORDER BY sort_order, iid LIMIT $2",
    [Q_ITEMS_LAST] = "SELECT iid, sort_order FROM items WHERE gid = $1"
                     " ORDER BY sort_order DESC, iid DESC LIMIT $2",
    [Q_ITEM_MOVE] = "UPDATE items SET gid = $2, sort_order = $3, updated_ms = $4, revision = $5"
                    " WHERE iid = $1",
    [Q_ITEMS_RENUMBER] = "UPDATE items i SET sort_order = r.rn,"
                         " updated_ms = greatest($2::bigint, i.updated_ms + 1), revision = i.revision + 1"
                         " FROM (SELECT iid, (row_number() OVER (ORDER BY sort_order, iid))::double precision"
                         " AS rn FROM items WHERE gid = $1) r"
                         " WHERE i.iid = r.iid AND i.sort_order <> r.rn"
                         " RETURNING i.iid, i.id, i.type, i.sort_order, i.created_ms, i.updated_ms, i.doc,"
                         " i.revision",
    /* the columns of Q_ITEM_FIND (read_item's), then the id */
    [Q_ITEMS_FIND] = "SELECT iid, gid, type, sort_order, created_ms, updated_ms, doc, revision, id"
                     " FROM items WHERE id = ANY($1::text[])",
};

/* A connection, as the pool keeps it: what its backend has prepared goes with it. */
typedef struct {
    pq_pooled base;
    unsigned char prepared[Q_COUNT];
    int slot; /* its change counter */
    /* the statements of queries (compiled per filter and sort shape), the last used:
     * planning one costs more than running it (0.6 ms against 0.1 ms for a page) */
    struct {
        char *text;
        uint64_t used, name;
    } qcache[QUERY_CACHE];
    uint64_t qclock, qnames;
} pq_conn;

struct pg_storage {
    PGconn *c;                /* the running call's connection; NULL between calls */
    unsigned char *prepared;  /* its statements */
    pq_conn *conn;
    char *dsn, *key;          /* the conninfo; the pool's key (conninfo and settings) */
    char connect_timeout[24]; /* whole seconds, for libpq */
    int pooled;               /* counted among the key's open stores */
    int writing, in_tx;
    int bumped;    /* this write transaction moved data_version */
    int slot;      /* its change counter */
    int busy_timeout_ms, statement_timeout_ms, sync_full, readonly;
    int queued;    /* item inserts sent in pipeline mode, results not read yet */
};

/* Item inserts (a batch, a clone's extra items) go out in libpq's pipeline mode: sent
 * without waiting, their results read by the next statement of any other kind (or
 * every PIPE_MAX, so that neither side's socket buffer fills in blocking mode). A
 * failure among them fails that next statement, so the call still fails as a whole. */
#define PIPE_MAX 256

/* ---- errors ----------------------------------------------------------------- */

static int lost(pg_storage *s) { return !s->c || PQstatus(s->c) == CONNECTION_BAD; }

static void trim(char *m)
{
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
        m[--n] = '\0';
}

/* Maps a failed result (or none) to the contract's codes; always -1. */
static int fail_res(pg_storage *s, PGresult *r, pg_status *st)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    char msg[200];
    snprintf(msg, sizeof msg, "%s", r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r)
                                    : s->c ? PQerrorMessage(s->c) : "no connection");
    trim(msg);
    if (lost(s) || !state) {
        /* a terminated backend, a restart, a failover: no SQLSTATE, a bad connection */
        if (lost(s))
            pg_fail(st, PG_UNAVAILABLE, "database unavailable: connection lost (%s)", msg);
        else
            pg_fail(st, PG_INTERNAL, "storage error: %s", msg);
    } else if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0) {
        pg_fail(st, PG_UNAVAILABLE, "database busy: %s (%s)", msg, state);
    } else if (strcmp(state, "55P03") == 0) {
        pg_fail(st, PG_UNAVAILABLE, "database is locked (waited busyTimeout = %d ms)",
                s->busy_timeout_ms);
    } else if (strcmp(state, "57014") == 0) {
        pg_fail(st, PG_UNAVAILABLE, "statement timed out (statementTimeout = %d ms)",
                s->statement_timeout_ms);
    } else if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0
               || strcmp(state, "53300") == 0) {
        pg_fail(st, PG_UNAVAILABLE, "database unavailable: %s (%s)", msg, state);
    } else if (strcmp(state, "25006") == 0) {
        pg_fail(st, PG_FAILED_PRECONDITION, "database is read-only: %s", msg);
    } else {
        pg_fail(st, PG_INTERNAL, "storage error: %s (%s)", msg, state);
    }
    return -1;
}

/* ---- statements ------------------------------------------------------------- */

static int prepare(pg_storage *s, int q, pg_status *st);

/* Reads the results of the queued inserts and leaves pipeline mode. 1, or -1 with st
 * set from the first failure. */
static int drain(pg_storage *s, pg_status *st)
{
    PGresult *r;
    int ok = 1;
    if (!s->queued)
        return 1;
    s->queued = 0;
    if (!PQpipelineSync(s->c)) {
        fail_res(s, NULL, st);
        PQexitPipelineMode(s->c);
        return -1;
    }
    for (;;) {
        r = PQgetResult(s->c);
        if (!r) {
            if (lost(s)) {
                if (ok)
                    fail_res(s, NULL, st);
                ok = 0;
                break;
            }
            continue; /* the end of one query's results */
        }
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        if (ok && PQresultStatus(r) != PGRES_COMMAND_OK) {
            fail_res(s, r, st);
            ok = 0;
        }
        PQclear(r);
    }
    PQexitPipelineMode(s->c);
    return ok ? 1 : -1;
}

/* Sends statement q in pipeline mode (its result read by drain). */
static int send_q(pg_storage *s, int q, int n, const char *const *v, const int *lens,
                  const int *formats, pg_status *st)
{
    char name[16];
    if (lost(s))
        return fail_res(s, NULL, st);
    if (!s->queued && prepare(s, q, st) < 0)
        return -1;
    if (!s->queued && !PQenterPipelineMode(s->c))
        return fail_res(s, NULL, st);
    snprintf(name, sizeof name, "pg%d", q);
    if (!PQsendQueryPrepared(s->c, name, n, v, lens, formats, 0)) {
        s->queued++;
        drain(s, st);
        return fail_res(s, NULL, st);
    }
    if (++s->queued >= PIPE_MAX)
        return drain(s, st);
    return 1;
}

static int prepare(pg_storage *s, int q, pg_status *st)
{
    PGresult *r;
    char name[16];
    if (s->prepared[q])
        return 1;
    snprintf(name, sizeof name, "pg%d", q);
    r = PQprepare(s->c, name, sql[q], 0, NULL);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        fail_res(s, r, st);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    s->prepared[q] = 1;
    return 1;
}

/* Runs statement q with text parameters (binary where formats says so); *out gets
 * the result (PQclear it) when rows are wanted. 1, or -1 with st set. */
static int run_q(pg_storage *s, int q, int n, const char *const *v, const int *lens,
                 const int *formats, PGresult **out, pg_status *st)
{
    PGresult *r;
    ExecStatusType t;
    char name[16];
    if (out)
        *out = NULL;
    if (drain(s, st) < 0)
        return -1;
    if (lost(s))
        return fail_res(s, NULL, st);
    snprintf(name, sizeof name, "pg%d", q);
    if (prepare(s, q, st) < 0)
        return -1;
    r = PQexecPrepared(s->c, name, n, v, lens, formats, 0);
    t = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
        fail_res(s, r, st);
        PQclear(r);
        return -1;
    }
    if (out)
        *out = r;
    else
        PQclear(r);
    return 1;
}

static int run0(pg_storage *s, int q, pg_status *st) { return run_q(s, q, 0, NULL, NULL, NULL, NULL, st); }

/* Parameter text, kept in a small per-call buffer set. */
typedef struct {
    char buf[8][32];
    int used;
} numbuf;

static const char *i64(numbuf *b, int64_t v)
{
    char *p = b->buf[b->used++ & 7];
    snprintf(p, 32, "%lld", (long long)v);
    return p;
}

static const char *dbl(numbuf *b, double v)
{
    char *p = b->buf[b->used++ & 7];
    snprintf(p, 32, "%.17g", v);
    return p;
}

static int64_t get_i64(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static double get_dbl(PGresult *r, int row, int col) { return strtod(PQgetvalue(r, row, col), NULL); }

static const char *get_text(pg_arena *a, PGresult *r, int row, int col, size_t *len)
{
    size_t n;
    if (PQgetisnull(r, row, col))
        return NULL;
    n = (size_t)PQgetlength(r, row, col);
    if (len)
        *len = n;
    return pg_arena_strdup(a, PQgetvalue(r, row, col), n);
}

static void copy_id(char dst[PG_UUID_LEN + 1], PGresult *r, int row, int col)
{
    size_t n = (size_t)PQgetlength(r, row, col);
    if (n > PG_UUID_LEN)
        n = PG_UUID_LEN;
    memcpy(dst, PQgetvalue(r, row, col), n);
    dst[n] = '\0';
}

/* ---- connection ------------------------------------------------------------- */

static int exec_text(pg_storage *s, const char *text, pg_status *st)
{
    PGresult *r = PQexec(s->c, text);
    ExecStatusType t = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int ok = t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK;
    if (!ok)
        fail_res(s, r, st);
    PQclear(r);
    return ok ? 1 : -1;
}

/* Server notices (a WARNING of a shutting-down server, say) are not the caller's output:
 * the failure that follows says what happened. */
static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* The session's settings, on every new connection. */
static int session(pg_storage *s, pg_status *st)
{
    char set[256];
    s->queued = 0;
    PQsetNoticeProcessor(s->c, quiet, NULL);
    s->slot = s->conn->slot = (int)((unsigned)PQbackendPID(s->c) % CHANGE_SLOTS);
    snprintf(set, sizeof set,
             "SET lock_timeout = %d; SET statement_timeout = %d; SET synchronous_commit = %s;"
             " SET default_transaction_read_only = %s; SET client_min_messages = warning",
             s->busy_timeout_ms > 0 ? s->busy_timeout_ms : 1, s->statement_timeout_ms,
             s->sync_full ? "on" : "off", s->readonly ? "on" : "off");
    return exec_text(s, set, st);
}

static char *copy(const char *t)
{
    size_t n = strlen(t) + 1;
    char *d = malloc(n);
    return d ? memcpy(d, t, n) : NULL;
}

static void free_conn(pq_pooled *p)
{
    pq_conn *c = (pq_conn *)p;
    int i;
    for (i = 0; i < QUERY_CACHE; i++)
        free(c->qcache[i].text);
    free(p);
}

static void hold(pg_storage *s, pq_conn *conn)
{
    s->conn = conn;
    s->c = conn ? conn->base.c : NULL;
    s->prepared = conn ? conn->prepared : NULL;
    s->slot = conn ? conn->slot : 0;
}

/* A new connection for the call (context: "dsn: cannot connect" at open, else the
 * UNAVAILABLE of a reconnect). */
static int connect_new(pg_storage *s, int opening, pg_status *st)
{
    const char *keys[4] = { "dbname", "connect_timeout", "fallback_application_name", NULL };
    const char *vals[4];
    pq_conn *conn = calloc(1, sizeof *conn);
    char msg[240];
    if (!conn)
        return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
    vals[0] = s->dsn;
    vals[1] = s->connect_timeout;
    vals[2] = "progallery";
    vals[3] = NULL;
    /* expand_dbname: the dsn is a conninfo string or URI; later keys do not override it */
    conn->base.c = PQconnectdbParams(keys, vals, 1);
    conn->base.pid = getpid();
    if (!conn->base.c || PQstatus(conn->base.c) != CONNECTION_OK) {
        snprintf(msg, sizeof msg, "%s", conn->base.c ? PQerrorMessage(conn->base.c) : "out of memory");
        trim(msg);
        if (!conn->base.c)
            pg_fail(st, PG_INTERNAL, "out of memory");
        else if (opening)
            pg_fail(st, PG_UNAVAILABLE, "dsn: cannot connect: %s", msg);
        else
            pg_fail(st, PG_UNAVAILABLE, "database unavailable: cannot reconnect (%s)", msg);
        PQfinish(conn->base.c);
        free(conn);
        return -1;
    }
    hold(s, conn);
    if (session(s, st) < 0) {
        PQfinish(conn->base.c);
        free(conn);
        hold(s, NULL);
        return -1;
    }
    return 1;
}

/* The connection for a call: held already, an idle one of the same settings, or new
 * (opening: a failure to connect is the open's "dsn: cannot connect"). */
static int take_for(pg_storage *s, int opening, pg_status *st)
{
    pq_conn *conn;
    if (s->conn)
        return 1;
    s->in_tx = 0;
    s->queued = 0;
    while ((conn = (pq_conn *)pq_pool_take(s->key))) {
        if (PQstatus(conn->base.c) == CONNECTION_OK) {
            hold(s, conn);
            return 1;
        }
        pq_pool_give(s->key, &conn->base, free_conn); /* closes it and the others */
    }
    return connect_new(s, opening, st);
}

static int take(pg_storage *s, pg_status *st) { return take_for(s, 0, st); }

/* The call is over: its connection goes back to the process's idle ones (closed instead
 * when it was lost). */
static void give(pg_storage *s)
{
    pq_conn *conn = s->conn;
    if (!conn)
        return;
    hold(s, NULL);
    s->in_tx = 0;
    pq_pool_give(s->key, &conn->base, free_conn);
}

/* Creates or checks the schema, under an advisory lock (two nodes opening a new
 * database at once do not both create it). The schema version is a row of
 * progallery_meta. The schema named first in search_path is created when missing,
 * so that one database can hold many stores (a site each). */
static int migrate(pg_storage *s, pg_status *st)
{
    PGresult *r;
    int64_t v = 0;
    int have_meta;
    if (!s->readonly && exec_text(s,
            "DO $$ BEGIN IF current_schema() IS NULL THEN EXECUTE 'CREATE SCHEMA IF NOT EXISTS '"
            " || split_part(current_setting('search_path'), ',', 1); END IF; END $$", st) < 0)
        return -1;
    if (exec_text(s, s->readonly ? "BEGIN READ ONLY" : "BEGIN", st) < 0)
        return -1;
    if (!s->readonly && exec_text(s, "SELECT pg_advisory_xact_lock(" LOCK_MIGRATE ")", st) < 0)
        goto fail;
    r = PQexec(s->c, "SELECT to_regclass('progallery_meta') IS NOT NULL");
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        fail_res(s, r, st);
        PQclear(r);
        goto fail;
    }
    have_meta = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (have_meta) {
        r = PQexec(s->c, "SELECT value FROM progallery_meta WHERE name = 'schema_version'");
        if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
            fail_res(s, r, st);
            PQclear(r);
            goto fail;
        }
        v = PQntuples(r) ? get_i64(r, 0, 0) : 0;
        PQclear(r);
    }
    if (v > SCHEMA_VERSION) {
        pg_fail(st, PG_FAILED_PRECONDITION,
                "dsn: database has schema version %lld, newer than this progallery (%d)",
                (long long)v, SCHEMA_VERSION);
        goto fail;
    }
    if (v < SCHEMA_VERSION) {
        char set[160];
        if (s->readonly) {
            pg_fail(st, PG_FAILED_PRECONDITION,
                    "dsn: no progallery data in this database (open it read-write once)");
            goto fail;
        }
        snprintf(set, sizeof set,
                 "INSERT INTO progallery_meta VALUES ('schema_version', %d)"
                 " ON CONFLICT (name) DO UPDATE SET value = excluded.value", SCHEMA_VERSION);
        if (exec_text(s, "CREATE TABLE IF NOT EXISTS progallery_meta(name text PRIMARY KEY,"
                         " value bigint NOT NULL)", st) < 0
            || exec_text(s, schema_sql, st) < 0 || exec_text(s, set, st) < 0)
            goto fail;
    }
    return exec_text(s, "COMMIT", st);
fail:
    if (!lost(s))
        PQclear(PQexec(s->c, "ROLLBACK"));
    return -1;
}

static void pq_close(pg_storage *s)
{
    if (!s)
        return;
    give(s);
    if (s->pooled)
        pq_pool_close(s->key);
    free(s->dsn);
    free(s->key);
    free(s);
}

static int pq_open(const pg_open_opts *o, pg_storage **out, pg_status *st)
{
    pg_storage *s = calloc(1, sizeof *s);
    size_t keylen;
    *out = NULL;
    if (!s)
        return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
    s->busy_timeout_ms = o->busy_timeout_ms;
    s->statement_timeout_ms = o->postgres.statement_timeout_ms;
    s->sync_full = o->synchronous_full;
    s->readonly = o->readonly;
    /* libpq counts whole seconds (at least 2 in libpq 15); 0 = forever */
    snprintf(s->connect_timeout, sizeof s->connect_timeout, "%d",
             o->postgres.connect_timeout_ms <= 0 ? 0 : (o->postgres.connect_timeout_ms + 999) / 1000);
    /* connections are alike when made from the same conninfo with the same session */
    keylen = strlen(o->postgres.dsn) + 128;
    if (!(s->dsn = copy(o->postgres.dsn)) || !(s->key = malloc(keylen))) {
        pq_close(s);
        return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
    }
    snprintf(s->key, keylen, "%s\x1f%s %d %d %d %d", s->dsn, s->connect_timeout, s->busy_timeout_ms,
             s->statement_timeout_ms, s->sync_full, s->readonly);
    if (!(s->pooled = pq_pool_open(s->key))) {
        pq_close(s);
        return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
    }
    if (take_for(s, 1, st) < 0 || migrate(s, st) < 0) {
        pq_close(s);
        return -1;
    }
    give(s);
    *out = s;
    return 1;
}

static int pq_begin(pg_storage *s, int write, pg_status *st)
{
    if (take(s, st) < 0)
        return -1;
    s->writing = write;
    s->bumped = 0;
    if (run0(s, write ? Q_BEGIN_WRITE : Q_BEGIN_READ, st) < 0) {
        give(s);
        return -1;
    }
    s->in_tx = 1;
    return 1;
}

static int bump(pg_storage *s, pg_status *st)
{
    numbuf b;
    const char *v[1];
    b.used = 0;
    v[0] = i64(&b, s->slot);
    return run_q(s, Q_BUMP, 1, v, NULL, NULL, NULL, st);
}

/* A failed commit leaves the transaction to the caller's rollback, which gives the
 * connection back. */
static int pq_commit(pg_storage *s, pg_status *st)
{
    PGresult *r;
    ExecStatusType t;
    if (s->writing && !s->bumped && bump(s, st) < 0) /* bump drains the pipeline */
        return -1;
    if (lost(s))
        return fail_res(s, NULL, st);
    r = PQexec(s->c, "COMMIT");
    t = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    s->in_tx = 0;
    if (t == PGRES_COMMAND_OK) {
        PQclear(r);
        give(s);
        return 1;
    }
    if (lost(s) && s->writing) {
        /* the COMMIT was sent; whether the server applied it, nobody here knows */
        PQclear(r);
        return pg_fail(st, PG_UNAVAILABLE,
                       "database unavailable: connection lost during COMMIT, outcome unknown"
                       " (the write may have been applied)"), -1;
    }
    fail_res(s, r, st);
    PQclear(r);
    return -1;
}

static void pq_rollback(pg_storage *s)
{
    pg_status ignored;
    if (!s->conn)
        return;
    drain(s, &ignored);
    if (s->in_tx && !lost(s))
        PQclear(PQexec(s->c, "ROLLBACK"));
    s->in_tx = 0;
    give(s);
}

static int pq_data_version(pg_storage *s, int64_t *v, pg_status *st)
{
    PGresult *r;
    int held = s->conn != NULL, rc;
    *v = 0;
    if (take(s, st) < 0)
        return -1;
    if ((rc = run_q(s, Q_DATA_VERSION, 0, NULL, NULL, NULL, &r, st)) > 0) {
        *v = PQntuples(r) ? get_i64(r, 0, 0) : 0;
        PQclear(r);
    }
    if (!held)
        give(s);
    return rc;
}

/* ---- galleries ---------------------------------------------------------------- */

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

/* columns from `first`: name, sort_order, created_ms, updated_ms, item_count, revision */
static const char *read_gallery(pg_arena *a, PGresult *r, int row, int first, pg_gallery_row *g)
{
    g->namelen = 0;
    g->name = get_text(a, r, row, first, &g->namelen);
    if (!g->name && !PQgetisnull(r, row, first))
        return "out of memory";
    g->sort = get_dbl(r, row, first + 1);
    g->created_ms = get_i64(r, row, first + 2);
    g->updated_ms = get_i64(r, row, first + 3);
    g->item_count = get_i64(r, row, first + 4);
    g->revision = get_i64(r, row, first + 5);
    return check_revision(g->revision) ? check_revision(g->revision)
                                       : check_dates(g->created_ms, g->updated_ms);
}

static int pq_gallery_find(pg_storage *s, const char *id, pg_arena *a, pg_gallery_row *out,
                           pg_status *st)
{
    PGresult *r;
    const char *v[1] = { id };
    const char *problem;
    int found;
    if (run_q(s, s->writing ? Q_GALLERY_FIND_LOCK : Q_GALLERY_FIND, 1, v, NULL, NULL, &r, st) < 0)
        return -1;
    found = PQntuples(r) > 0;
    if (found) {
        out->key = get_i64(r, 0, 0);
        memcpy(out->id, id, PG_UUID_LEN + 1);
        if ((problem = read_gallery(a, r, 0, 1, out))) {
            PQclear(r);
            return pg_fail(st, PG_INTERNAL, "%s", problem), -1;
        }
    }
    PQclear(r);
    return found;
}

static int pq_gallery_insert(pg_storage *s, pg_gallery_row *g, pg_status *st)
{
    PGresult *r;
    numbuf b;
    const char *v[7];
    int lens[7] = { 0, (int)g->namelen, 0, 0, 0, 0, 0 };
    int fmts[7] = { 0, 1, 0, 0, 0, 0, 0 }; /* the name as bytes: it may hold NUL-free UTF-8 of any length */
    b.used = 0;
    v[0] = g->id;
    v[1] = g->name;
    v[2] = dbl(&b, g->sort);
    v[3] = i64(&b, g->created_ms);
    v[4] = i64(&b, g->updated_ms);
    v[5] = i64(&b, g->item_count);
    v[6] = i64(&b, g->revision);
    if (run_q(s, Q_GALLERY_INSERT, 7, v, lens, fmts, &r, st) < 0)
        return -1;
    g->key = get_i64(r, 0, 0);
    PQclear(r);
    return 1;
}

static int pq_gallery_update(pg_storage *s, const pg_gallery_row *g, int named, pg_status *st)
{
    numbuf b;
    const char *v[6];
    int lens[6] = { 0, (int)g->namelen, 0, 0, 0, 0 };
    int fmts[6] = { 0, 1, 0, 0, 0, 0 };
    (void)named; /* PostgreSQL leaves the indexes of unchanged values alone itself (HOT) */
    b.used = 0;
    v[0] = i64(&b, g->key);
    v[1] = g->name;
    v[2] = dbl(&b, g->sort);
    v[3] = i64(&b, g->updated_ms);
    v[4] = i64(&b, g->item_count);
    v[5] = i64(&b, g->revision);
    return run_q(s, Q_GALLERY_UPDATE, 6, v, lens, fmts, NULL, st);
}

static int by_key(pg_storage *s, int q, int64_t key, PGresult **out, pg_status *st)
{
    numbuf b;
    const char *v[1];
    b.used = 0;
    v[0] = i64(&b, key);
    return run_q(s, q, 1, v, NULL, NULL, out, st);
}

static int pq_gallery_delete(pg_storage *s, int64_t key, pg_status *st)
{
    if (by_key(s, Q_GALLERY_DELETE_ITEMS, key, NULL, st) < 0)
        return -1;
    return by_key(s, Q_GALLERY_DELETE, key, NULL, st);
}

static int scalar(pg_storage *s, int q, int nkey, int64_t key, double *out, int *has, pg_status *st)
{
    PGresult *r;
    numbuf b;
    const char *v[1];
    b.used = 0;
    v[0] = i64(&b, key);
    if (run_q(s, q, nkey, v, NULL, NULL, &r, st) < 0)
        return -1;
    *has = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0);
    *out = *has ? get_dbl(r, 0, 0) : 0;
    PQclear(r);
    return 1;
}

static int pq_gallery_count(pg_storage *s, int64_t *n, pg_status *st)
{
    double d;
    int has;
    if (scalar(s, Q_GALLERY_COUNT, 0, 0, &d, &has, st) < 0)
        return -1;
    *n = (int64_t)d;
    return 1;
}

static int pq_gallery_max_sort(pg_storage *s, double *max, pg_status *st)
{
    int has;
    if (s->writing && run0(s, Q_GALLERIES_LOCK, st) < 0)
        return -1;
    return scalar(s, Q_GALLERY_MAX_SORT, 0, 0, max, &has, st) < 0 ? -1 : has;
}

/* The rows of a result with the columns of Q_GALLERY_PAGE; clears r. */
static int gallery_rows(PGresult *r, pg_arena *a, pg_gallery_row **rows, size_t *n, pg_status *st)
{
    int i, nt = PQntuples(r);
    *rows = NULL;
    *n = 0;
    if (nt && !(*rows = pg_arena_alloc(a, (size_t)nt * sizeof **rows))) {
        PQclear(r);
        return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
    }
    for (i = 0; i < nt; i++) {
        pg_gallery_row *g = &(*rows)[i];
        const char *problem;
        memset(g, 0, sizeof *g);
        g->key = get_i64(r, i, 0);
        copy_id(g->id, r, i, 1);
        if ((problem = read_gallery(a, r, i, 2, g))) {
            PQclear(r);
            return pg_fail(st, PG_INTERNAL, "%s", problem), -1;
        }
    }
    *n = (size_t)nt;
    PQclear(r);
    return 1;
}

static int pq_gallery_page(pg_storage *s, int64_t offset, int64_t limit, pg_arena *a,
                           pg_gallery_row **rows, size_t *n, pg_status *st)
{
    PGresult *r;
    numbuf b;
    const char *v[2];
    b.used = 0;
    v[0] = i64(&b, limit);
    v[1] = i64(&b, offset);
    *rows = NULL;
    *n = 0;
    if (run_q(s, Q_GALLERY_PAGE, 2, v, NULL, NULL, &r, st) < 0)
        return -1;
    return gallery_rows(r, a, rows, n, st);
}

/* ---- items -------------------------------------------------------------------- */

static const char *intern_type(const char *t)
{
    static const char *const types[] = { "IMAGE", "VIDEO", "TEXT", "UNDEFINED" };
    size_t i;
    for (i = 0; t && i < 3; i++)
        if (strcmp(t, types[i]) == 0)
            return types[i];
    return types[3];
}

/* columns from `first`: type, sort_order, created_ms, updated_ms, doc, revision */
static const char *read_item(pg_arena *a, PGresult *r, int row, int first, pg_item_row *it)
{
    it->type = intern_type(PQgetvalue(r, row, first));
    it->sort = get_dbl(r, row, first + 1);
    it->created_ms = get_i64(r, row, first + 2);
    it->updated_ms = get_i64(r, row, first + 3);
    it->doc = get_text(a, r, row, first + 4, &it->doclen);
    it->revision = get_i64(r, row, first + 5);
    if (!it->doc)
        return "out of memory";
    return check_revision(it->revision) ? check_revision(it->revision)
                                        : check_dates(it->created_ms, it->updated_ms);
}

static int pq_item_find(pg_storage *s, const char *id, pg_arena *a, pg_item_row *out, pg_status *st)
{
    PGresult *r;
    const char *v[1] = { id };
    const char *problem;
    int found;
    if (run_q(s, Q_ITEM_FIND, 1, v, NULL, NULL, &r, st) < 0)
        return -1;
    found = PQntuples(r) > 0;
    if (found) {
        out->key = get_i64(r, 0, 0);
        out->gallery_key = get_i64(r, 0, 1);
        memcpy(out->id, id, PG_UUID_LEN + 1);
        if ((problem = read_item(a, r, 0, 2, out))) {
            PQclear(r);
            return pg_fail(st, PG_INTERNAL, "%s", problem), -1;
        }
    }
    PQclear(r);
    return found;
}

static int pq_item_insert(pg_storage *s, pg_item_row *it, pg_status *st)
{
    numbuf b;
    const char *v[8];
    int lens[8] = { 0, 0, 0, 0, 0, 0, (int)it->doclen, 0 };
    int fmts[8] = { 0, 0, 0, 0, 0, 0, 1, 0 };
    b.used = 0;
    v[0] = it->id;
    v[1] = i64(&b, it->gallery_key);
    v[2] = dbl(&b, it->sort);
    v[3] = it->type;
    v[4] = i64(&b, it->created_ms);
    v[5] = i64(&b, it->updated_ms);
    v[6] = it->doc;
    v[7] = i64(&b, it->revision);
    it->key = 0; /* not needed by the API layer: no RETURNING, no round trip */
    return send_q(s, Q_ITEM_INSERT, 8, v, lens, fmts, st);
}

static int pq_item_update(pg_storage *s, const pg_item_row *it, pg_status *st)
{
    numbuf b;
    const char *v[6];
    int lens[6] = { 0, 0, 0, 0, (int)it->doclen, 0 };
    int fmts[6] = { 0, 0, 0, 0, 1, 0 };
    b.used = 0;
    v[0] = i64(&b, it->key);
    v[1] = dbl(&b, it->sort);
    v[2] = it->type;
    v[3] = i64(&b, it->updated_ms);
    v[4] = it->doc;
    v[5] = i64(&b, it->revision);
    return run_q(s, Q_ITEM_UPDATE, 6, v, lens, fmts, NULL, st);
}

static int pq_item_delete(pg_storage *s, int64_t key, pg_status *st)
{
    PGresult *r;
    int n;
    if (by_key(s, Q_ITEM_DELETE, key, &r, st) < 0)
        return -1;
    n = atoi(PQcmdTuples(r));
    PQclear(r);
    return n > 0;
}

static int pq_item_max_sort(pg_storage *s, int64_t gallery_key, double *max, pg_status *st)
{
    int has;
    return scalar(s, Q_ITEM_MAX_SORT, 1, gallery_key, max, &has, st) < 0 ? -1 : has;
}

/* The rows of a result with the columns of Q_ITEM_PAGE; clears r. */
static int item_rows(PGresult *r, int64_t gallery_key, pg_arena *a, pg_item_row **rows, size_t *n,
                     pg_status *st)
{
    int i, nt = PQntuples(r);
    *rows = NULL;
    *n = 0;
    if (nt && !(*rows = pg_arena_alloc(a, (size_t)nt * sizeof **rows))) {
        PQclear(r);
        return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
    }
    for (i = 0; i < nt; i++) {
        pg_item_row *it = &(*rows)[i];
        const char *problem;
        memset(it, 0, sizeof *it);
        it->key = get_i64(r, i, 0);
        it->gallery_key = gallery_key;
        copy_id(it->id, r, i, 1);
        if ((problem = read_item(a, r, i, 2, it))) {
            PQclear(r);
            return pg_fail(st, PG_INTERNAL, "%s", problem), -1;
        }
    }
    *n = (size_t)nt;
    PQclear(r);
    return 1;
}

static int pq_item_page(pg_storage *s, int64_t gallery_key, int64_t offset, int64_t limit,
                        pg_arena *a, pg_item_row **rows, size_t *n, pg_status *st)
{
    PGresult *r;
    numbuf b;
    const char *v[3];
    b.used = 0;
    v[0] = i64(&b, gallery_key);
    v[1] = i64(&b, limit);
    v[2] = i64(&b, offset);
    *rows = NULL;
    *n = 0;
    if (run_q(s, Q_ITEM_PAGE, 3, v, NULL, NULL, &r, st) < 0)
        return -1;
    return item_rows(r, gallery_key, a, rows, n, st);
}

static int pq_items_clone(pg_storage *s, int64_t src_key, int64_t dst_key, double first_sort,
                          int64_t now_ms, const char (*ids)[PG_UUID_LEN + 1], size_t nids,
                          int64_t *copied, pg_status *st)
{
    PGresult *r;
    numbuf b;
    const char *v[5];
    char *arr = malloc(nids * (PG_UUID_LEN + 1) + 3), *p;
    size_t i;
    int rc;
    if (!arr)
        return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
    /* the text[] literal {id,id,...}: ids need no quoting */
    p = arr;
    *p++ = '{';
    for (i = 0; i < nids; i++) {
        if (i)
            *p++ = ',';
        memcpy(p, ids[i], PG_UUID_LEN);
        p += PG_UUID_LEN;
    }
    *p++ = '}';
    *p = '\0';
    b.used = 0;
    v[0] = i64(&b, src_key);
    v[1] = i64(&b, dst_key);
    v[2] = i64(&b, now_ms);
    v[3] = dbl(&b, first_sort);
    v[4] = arr;
    rc = run_q(s, Q_ITEMS_CLONE, 5, v, NULL, NULL, &r, st);
    free(arr);
    if (rc < 0)
        return -1;
    *copied = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return 1;
}

static int pq_items_delete_some(pg_storage *s, int64_t gallery_key, char (*ids)[PG_UUID_LEN + 1],
                                size_t max, size_t *n, pg_status *st)
{
    PGresult *r;
    numbuf b;
    const char *v[2];
    int i, nt;
    *n = 0;
    b.used = 0;
    v[0] = i64(&b, gallery_key);
    v[1] = i64(&b, (int64_t)max);
    if (run_q(s, Q_ITEMS_DELETE_SOME, 2, v, NULL, NULL, &r, st) < 0)
        return -1;
    nt = PQntuples(r);
    for (i = 0; i < nt && (size_t)i < max; i++)
        copy_id(ids[i], r, i, 0);
    *n = (size_t)i;
    PQclear(r);
    return 1;
}

/* ---- moves ---------------------------------------------------------------------- */

static int pq_item_neighbours(pg_storage *s, int64_t gallery_key, const pg_item_pos *from,
                              int after, int64_t limit, pg_arena *a, pg_item_pos **rows,
                              size_t *n, pg_status *st)
{
    PGresult *r;
    numbuf b;
    const char *v[4];
    int i, nt, nv = 0;
    b.used = 0;
    v[nv++] = i64(&b, gallery_key);
    if (from) {
        v[nv++] = dbl(&b, from->sort);
        v[nv++] = i64(&b, from->key);
    }
    v[nv++] = i64(&b, limit);
    *rows = NULL;
    *n = 0;
    if (run_q(s, from ? (after ? Q_ITEMS_AFTER : Q_ITEMS_BEFORE) : (after ? Q_ITEMS_FIRST : Q_ITEMS_LAST),
              nv, v, NULL, NULL, &r, st) < 0)
        return -1;
    nt = PQntuples(r);
    if (nt && !(*rows = pg_arena_alloc(a, (size_t)nt * sizeof **rows))) {
        PQclear(r);
        return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
    }
    for (i = 0; i < nt; i++) {
        (*rows)[i].key = get_i64(r, i, 0);
        (*rows)[i].sort = get_dbl(r, i, 1);
    }
    *n = (size_t)nt;
    PQclear(r);
    return 1;
}

/* Sent in pipeline mode, as inserts are: a move of n items costs one round trip per
 * PIPE_MAX of them, not n (a failure fails the next statement, so the call). */
static int pq_item_move(pg_storage *s, int64_t key, int64_t gallery_key, int other_gallery,
                        double sort, int64_t updated_ms, int64_t revision, pg_status *st)
{
    numbuf b;
    const char *v[5];
    (void)other_gallery; /* PostgreSQL skips index updates for unchanged values itself (HOT) */
    b.used = 0;
    v[0] = i64(&b, key);
    v[1] = i64(&b, gallery_key);
    v[2] = dbl(&b, sort);
    v[3] = i64(&b, updated_ms);
    v[4] = i64(&b, revision);
    return send_q(s, Q_ITEM_MOVE, 5, v, NULL, NULL, st);
}

static int pq_items_renumber(pg_storage *s, int64_t gallery_key, int64_t now_ms, pg_arena *a,
                             pg_item_row **rows, size_t *n, pg_status *st)
{
    PGresult *r;
    numbuf b;
    const char *v[2];
    b.used = 0;
    v[0] = i64(&b, gallery_key);
    v[1] = i64(&b, now_ms);
    *rows = NULL;
    *n = 0;
    if (run_q(s, Q_ITEMS_RENUMBER, 2, v, NULL, NULL, &r, st) < 0)
        return -1;
    return item_rows(r, gallery_key, a, rows, n, st); /* RETURNING has Q_ITEM_PAGE's columns */
}

/* an id and its place in the caller's list, sorted by id to match rows to places */
typedef struct {
    char id[PG_UUID_LEN + 1];
    size_t at;
} id_at;

static int cmp_id_at(const void *a, const void *b)
{
    return memcmp(((const id_at *)a)->id, ((const id_at *)b)->id, PG_UUID_LEN);
}

/* One query for n ids (a text[] parameter): a move of 100 items costs one round trip for
 * its lookups, not 100. Rows come back in any order and are matched to the places of
 * their id (an id given twice gets the row twice). */
static int pq_items_find(pg_storage *s, const char (*ids)[PG_UUID_LEN + 1], size_t n, pg_arena *a,
                         pg_item_row *out, unsigned char *found, pg_status *st)
{
    PGresult *r;
    const char *v[1];
    char *arr = pg_arena_alloc(a, n * (PG_UUID_LEN + 1) + 3), *p;
    id_at *idx = pg_arena_alloc(a, (n ? n : 1) * sizeof *idx);
    size_t i;
    int k, nt;
    if (!arr || !idx)
        return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
    p = arr;
    *p++ = '{';
    for (i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        memcpy(p, ids[i], PG_UUID_LEN); /* normalized ids need no quoting */
        p += PG_UUID_LEN;
        memcpy(idx[i].id, ids[i], PG_UUID_LEN + 1);
        idx[i].at = i;
        found[i] = 0;
    }
    *p++ = '}';
    *p = '\0';
    v[0] = arr;
    if (run_q(s, Q_ITEMS_FIND, 1, v, NULL, NULL, &r, st) < 0)
        return -1;
    qsort(idx, n, sizeof *idx, cmp_id_at);
    nt = PQntuples(r);
    for (k = 0; k < nt; k++) {
        id_at key;
        size_t lo = 0, hi = n;
        copy_id(key.id, r, k, 8);
        while (lo < hi) { /* the first place with this id */
            size_t mid = lo + (hi - lo) / 2;
            if (cmp_id_at(&key, &idx[mid]) > 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (; lo < n && cmp_id_at(&key, &idx[lo]) == 0; lo++) {
            pg_item_row *it = &out[idx[lo].at];
            const char *problem;
            memset(it, 0, sizeof *it);
            it->key = get_i64(r, k, 0);
            it->gallery_key = get_i64(r, k, 1);
            memcpy(it->id, key.id, PG_UUID_LEN + 1);
            if ((problem = read_item(a, r, k, 2, it))) {
                PQclear(r);
                return pg_fail(st, PG_INTERNAL, "%s", problem), -1;
            }
            found[idx[lo].at] = 1;
        }
    }
    PQclear(r);
    return 1;
}

/* ---- the event feed ------------------------------------------------------------ */

static int pq_feed_state(pg_storage *s, int64_t *last_seq, int64_t *pruned_through, pg_status *st)
{
    PGresult *r;
    if (run_q(s, Q_FEED_STATE, 0, NULL, NULL, NULL, &r, st) < 0)
        return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return pg_fail(st, PG_INTERNAL, "database damaged: the event feed's state is missing"), -1;
    }
    *last_seq = get_i64(r, 0, 0);
    *pruned_through = get_i64(r, 0, 1);
    PQclear(r);
    return 1;
}

static int same_chunk(const pg_event_row *a, const pg_event_row *b)
{
    return strcmp(a->gallery_id, b->gallery_id) == 0 && a->time_ms == b->time_ms
           && a->actor == b->actor && a->actor_idlen == b->actor_idlen
           && (a->actor_id == b->actor_id
               || (a->actor_id && b->actor_id && memcmp(a->actor_id, b->actor_id, a->actor_idlen) == 0));
}

static int chunk_insert(pg_storage *s, const pg_event_row *rows, size_t n, pg_status *st)
{
    numbuf b;
    const char *v[8];
    int lens[8] = { 0 }, fmts[8] = { 0 };
    size_t i, size = 0, at = 0;
    unsigned char *body;
    int rc;
    for (i = 0; i < n; i++)
        size += pg_event_packed_size(&rows[i]);
    if (!(body = malloc(size ? size : 1)))
        return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
    for (i = 0; i < n; i++)
        at += pg_event_pack(body + at, &rows[i]);
    b.used = 0;
    v[0] = i64(&b, rows[n - 1].seq);
    v[1] = i64(&b, rows[0].seq);
    v[2] = rows[0].gallery_id;
    v[3] = i64(&b, rows[0].entity_seq);
    v[4] = i64(&b, rows[0].time_ms);
    v[5] = i64(&b, rows[0].actor);
    v[6] = rows[0].actor_id;
    lens[6] = (int)rows[0].actor_idlen;
    fmts[6] = 1;
    v[7] = (const char *)body;
    lens[7] = (int)at;
    fmts[7] = 1;
    rc = run_q(s, Q_CHUNK_INSERT, 8, v, lens, fmts, NULL, st);
    free(body);
    return rc;
}

static int pq_event_append(pg_storage *s, pg_event_row *rows, size_t n, pg_status *st)
{
    PGresult *r;
    numbuf b;
    const char *v[2];
    int64_t last, eseq;
    size_t i = 0, j;
    if (n == 0)
        return 1;
    b.used = 0;
    v[0] = i64(&b, (int64_t)n);
    if (run_q(s, Q_FEED_TAKE, 1, v, NULL, NULL, &r, st) < 0)
        return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return pg_fail(st, PG_INTERNAL, "database damaged: the event feed's state is missing"), -1;
    }
    last = get_i64(r, 0, 0);
    PQclear(r);
    while (i < n) {
        size_t end = i + 1;
        while (end < n && same_chunk(&rows[end], &rows[i]))
            end++;
        /* the gallery's counter: moved by the run's length in one statement (its row is
         * locked by this write already) */
        v[0] = rows[i].gallery_id;
        v[1] = i64(&b, (int64_t)(end - i));
        if (run_q(s, Q_ENTITY_ADD, 2, v, NULL, NULL, &r, st) < 0)
            return -1;
        eseq = PQntuples(r) ? get_i64(r, 0, 0) : 0;
        PQclear(r);
        for (j = i; j < end; j++) {
            rows[j].seq = ++last;
            rows[j].entity_seq = ++eseq;
        }
        for (j = i; j < end; j += PG_CHUNK_EVENTS)
            if (chunk_insert(s, &rows[j], end - j < PG_CHUNK_EVENTS ? end - j : PG_CHUNK_EVENTS, st) < 0)
                return -1;
        i = end;
    }
    return 1;
}

static const char *read_chunk(pg_arena *a, PGresult *r, int row, int64_t after, int64_t limit,
                              pg_event_row *rows, size_t *n)
{
    int64_t last = get_i64(r, row, 0), seq = get_i64(r, row, 1);
    int64_t eseq = get_i64(r, row, 3), time_ms = get_i64(r, row, 4);
    int actor = (int)get_i64(r, row, 5);
    const char *actor_id = NULL;
    size_t actor_idlen = 0, left, used;
    unsigned char *body;
    const unsigned char *p;
    if (actor < PG_ACTOR_WIX_USER || actor > PG_ACTOR_VISITOR || !pg_date_ok(time_ms) || last < seq)
        return "database damaged: an event chunk is not readable";
    if (!PQgetisnull(r, row, 6) && !(actor_id = get_text(a, r, row, 6, &actor_idlen)))
        return "out of memory";
    /* bytea arrives as hex text: decode into the arena's lifetime */
    {
        size_t blen;
        unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, 7), &blen);
        if (!raw)
            return "out of memory";
        body = pg_arena_alloc(a, blen ? blen : 1);
        if (body)
            memcpy(body, raw, blen);
        PQfreemem(raw);
        if (!body)
            return "out of memory";
        left = blen;
    }
    p = body;
    for (; seq <= last && (int64_t)*n < limit; seq++, eseq++) {
        pg_event_row *e = &rows[*n];
        int oom;
        if (!(used = pg_event_unpack(p, left, a, e, &oom)))
            return oom ? "out of memory" : "database damaged: an event chunk is not readable";
        p += used;
        left -= used;
        if (seq <= after)
            continue;
        e->seq = seq;
        e->entity_seq = eseq;
        copy_id(e->gallery_id, r, row, 2);
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

static int pq_event_page(pg_storage *s, int64_t after, int64_t limit, pg_arena *a,
                         pg_event_row **rows, size_t *n, pg_status *st)
{
    PGresult *r;
    numbuf b;
    const char *v[2];
    int i, nt;
    *rows = NULL;
    *n = 0;
    if (limit <= 0)
        return 1;
    if (!(*rows = pg_arena_alloc(a, (size_t)limit * sizeof **rows)))
        return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
    b.used = 0;
    v[0] = i64(&b, after);
    v[1] = i64(&b, limit); /* a chunk holds at least one event: limit chunks are enough */
    if (run_q(s, Q_CHUNK_PAGE, 2, v, NULL, NULL, &r, st) < 0)
        return -1;
    nt = PQntuples(r);
    for (i = 0; i < nt && (int64_t)*n < limit; i++) {
        const char *problem = read_chunk(a, r, i, after, limit, *rows, n);
        if (problem) {
            PQclear(r);
            return pg_fail(st, PG_INTERNAL, "%s", problem), -1;
        }
    }
    PQclear(r);
    return 1;
}

static int pq_event_prune(pg_storage *s, int64_t through_ms, int64_t max_rows, int64_t *removed,
                          int64_t *next_ms, int *blocked, pg_status *st)
{
    PGresult *r;
    numbuf b;
    const char *v[1];
    double min_cursor = 0;
    int has_cursor, i, nt;
    int64_t through = 0, n = 0;
    *removed = 0;
    *next_ms = -1;
    *blocked = 0;
    if (scalar(s, Q_CURSOR_MIN, 0, 0, &min_cursor, &has_cursor, st) < 0)
        return -1;
    b.used = 0;
    v[0] = i64(&b, max_rows + 1);
    if (run_q(s, Q_CHUNK_OLDEST, 1, v, NULL, NULL, &r, st) < 0)
        return -1;
    nt = PQntuples(r);
    for (i = 0; i < nt; i++) {
        int64_t seq = get_i64(r, i, 0), t = get_i64(r, i, 1);
        if (t > through_ms || (has_cursor && (double)seq > min_cursor) || n == max_rows) {
            *next_ms = t;
            *blocked = t <= through_ms;
            break;
        }
        through = seq;
        n++;
    }
    PQclear(r);
    *removed = n;
    if (through == 0)
        return 1;
    v[0] = i64(&b, through);
    if (run_q(s, Q_CHUNK_DELETE_THROUGH, 1, v, NULL, NULL, NULL, st) < 0)
        return -1;
    return run_q(s, Q_FEED_SET_PRUNED, 1, v, NULL, NULL, NULL, st);
}

static int pq_cursor_get(pg_storage *s, const char *name, size_t len, int64_t *seq, pg_status *st)
{
    PGresult *r;
    const char *v[1] = { name };
    int lens[1] = { (int)len }, fmts[1] = { 1 }, found;
    if (run_q(s, Q_CURSOR_GET, 1, v, lens, fmts, &r, st) < 0)
        return -1;
    found = PQntuples(r) > 0;
    *seq = found ? get_i64(r, 0, 0) : 0;
    PQclear(r);
    return found;
}

static int pq_cursor_set(pg_storage *s, const char *name, size_t len, int64_t seq, pg_status *st)
{
    numbuf b;
    const char *v[2];
    int lens[2] = { (int)len, 0 }, fmts[2] = { 1, 0 };
    b.used = 0;
    v[0] = name;
    v[1] = i64(&b, seq);
    return run_q(s, Q_CURSOR_SET, 2, v, lens, fmts, NULL, st);
}

static int pq_lease_take(pg_storage *s, const char *name, size_t len, const char *holder,
                         size_t holderlen, int64_t now_ms, int64_t until_ms, pg_status *st)
{
    PGresult *r;
    numbuf b;
    const char *v[4];
    int lens[4] = { (int)len, (int)holderlen, 0, 0 }, fmts[4] = { 1, 1, 0, 0 }, n;
    b.used = 0;
    v[0] = name;
    v[1] = holder;
    v[2] = i64(&b, now_ms);
    v[3] = i64(&b, until_ms);
    if (run_q(s, Q_LEASE_TAKE, 4, v, lens, fmts, &r, st) < 0)
        return -1;
    n = atoi(PQcmdTuples(r));
    PQclear(r);
    return n > 0;
}

/* ---- moving a feed (progallery export / import) ------------------------------- */

static int pq_cursor_page(pg_storage *s, const char *after, size_t afterlen, int64_t limit,
                          pg_arena *a, pg_cursor_row **rows, size_t *n, pg_status *st)
{
    PGresult *r;
    numbuf b;
    const char *v[2];
    int lens[2] = { after ? (int)afterlen : 0, 0 }, fmts[2] = { 1, 0 }, i, nt;
    b.used = 0;
    v[0] = after ? after : "";
    v[1] = i64(&b, limit);
    *n = 0;
    if (run_q(s, Q_CURSOR_PAGE, 2, v, lens, fmts, &r, st) < 0)
        return -1;
    nt = PQntuples(r);
    if (!(*rows = pg_arena_alloc(a, (size_t)(nt ? nt : 1) * sizeof **rows))) {
        PQclear(r);
        return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
    }
    for (i = 0; i < nt; i++) {
        pg_cursor_row *c = &(*rows)[i];
        if (!(c->name = get_text(a, r, i, 0, &c->namelen))) {
            PQclear(r);
            return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
        }
        c->seq = get_i64(r, i, 1);
    }
    *n = (size_t)nt;
    PQclear(r);
    return 1;
}

static int pq_entity_seq_page(pg_storage *s, const char *after, int64_t limit, pg_arena *a,
                              pg_entity_seq_row **rows, size_t *n, pg_status *st)
{
    PGresult *r;
    numbuf b;
    const char *v[2];
    int i, nt;
    b.used = 0;
    v[0] = after ? after : "";
    v[1] = i64(&b, limit);
    *n = 0;
    if (run_q(s, Q_ENTITY_PAGE, 2, v, NULL, NULL, &r, st) < 0)
        return -1;
    nt = PQntuples(r);
    if (!(*rows = pg_arena_alloc(a, (size_t)(nt ? nt : 1) * sizeof **rows))) {
        PQclear(r);
        return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
    }
    for (i = 0; i < nt; i++) {
        copy_id((*rows)[i].gallery_id, r, i, 0);
        (*rows)[i].seq = get_i64(r, i, 1);
    }
    *n = (size_t)nt;
    PQclear(r);
    return 1;
}

static int pq_entity_seq_set(pg_storage *s, const char *gallery_id, int64_t seq, pg_status *st)
{
    numbuf b;
    const char *v[2];
    b.used = 0;
    v[0] = gallery_id;
    v[1] = i64(&b, seq);
    return run_q(s, Q_ENTITY_SET, 2, v, NULL, NULL, NULL, st);
}

static int pq_feed_restore(pg_storage *s, int64_t pruned_through, pg_status *st)
{
    numbuf b;
    const char *v[1];
    b.used = 0;
    v[0] = i64(&b, pruned_through);
    return run_q(s, Q_FEED_RESTORE, 1, v, NULL, NULL, NULL, st);
}

/* Chunks as event_append makes them, and only while seqs and entity seqs run on one by
 * one (a chunk stores its first of each); then the feed's last seq. */
static int pq_event_restore(pg_storage *s, const pg_event_row *rows, size_t n, pg_status *st)
{
    numbuf b;
    const char *v[1];
    size_t i = 0;
    if (n == 0)
        return 1;
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
    b.used = 0;
    v[0] = i64(&b, rows[n - 1].seq);
    return run_q(s, Q_FEED_RESTORED, 1, v, NULL, NULL, NULL, st);
}

/* ---- queries (spec section 14) ------------------------------------------------
 * A parsed query becomes one SELECT (query_sql.c), in PostgreSQL's words below: the
 * item's document read as jsonb, every value a parameter $N with its type cast. */

/* The values of a query's parameters, for PQexecPrepared. */
typedef struct {
    const char *vals[PG_SQL_MAX_PARAMS];
    int lens[PG_SQL_MAX_PARAMS], fmts[PG_SQL_MAX_PARAMS];
    pg_arena *a;
} pq_params;

/* A parameter's SQL type follows the column it meets. */
static const char *cast(pg_query_field f)
{
    switch (f) {
    case PG_QF_SORT: return "::float8";
    case PG_QF_CREATED: case PG_QF_UPDATED: case PG_QF_KEY: return "::bigint";
    default: return "::text";
    }
}

static int pq_param(pg_sql_build *b, int n, pg_query_field f, const pg_query_val *v)
{
    pq_params *p = b->ud;
    char num[40];
    int i = n - 1;
    if (v->is_num) {
        char *t = pg_arena_alloc(p->a, 32);
        if (!t)
            return 0;
        if (f == PG_QF_SORT)
            snprintf(t, 32, "%.17g", v->n);
        else
            snprintf(t, 32, "%lld", (long long)v->n);
        p->vals[i] = t;
        p->lens[i] = 0;
        p->fmts[i] = 0;
    } else {
        /* binary format: the bytes as they are, whatever their length */
        p->vals[i] = v->s;
        p->lens[i] = (int)v->len;
        p->fmts[i] = 1;
    }
    snprintf(num, sizeof num, "$%d%s", n, cast(f));
    pg_sql_add(b, num);
    return 1;
}

static const char *pq_column(pg_query_field f, int items, int sorting)
{
    switch (f) {
    case PG_QF_TYPE: return "type";
    case PG_QF_TITLE: return "(doc::jsonb ->> 'title')";
    case PG_QF_CREATED: return "created_ms";
    case PG_QF_UPDATED: return "updated_ms";
    case PG_QF_SORT: return "sort_order";
    case PG_QF_NAME: return sorting ? "(coalesce(name, '') COLLATE \"C\")" : "name";
    case PG_QF_KEY: return items ? "iid" : "gid";
    case PG_QF_TAGS: break;
    }
    return "NULL";
}

static int pq_starts_with(pg_sql_build *b, pg_query_field f, const char *column, const pg_query_val *v)
{
    pg_sql_add(b, "starts_with(");
    pg_sql_add(b, column);
    pg_sql_add(b, ", ");
    if (!pg_sql_param(b, f, v))
        return 0;
    pg_sql_add(b, ")");
    return 1;
}

static const pg_sql_dialect pq_dialect = {
    .true_sql = "true",
    .false_sql = "false",
    .ne = " IS DISTINCT FROM ",
    .select_items = "SELECT " ITEM_ROW " FROM items WHERE gid = ",
    .select_galleries = "SELECT " GALLERY_ROW " FROM galleries WHERE true",
    .has_some = "EXISTS (SELECT 1 FROM jsonb_array_elements_text(doc::jsonb -> 'tags' -> 'values')"
                " t(v) WHERE t.v IN ",
    .has_all = "((SELECT count(DISTINCT t.v) FROM jsonb_array_elements_text(doc::jsonb -> 'tags'"
               " -> 'values') t(v) WHERE t.v IN ",
    .column = pq_column,
    .param = pq_param,
    .starts_with = pq_starts_with,
};

/* The name of the connection's prepared statement of this SQL text: kept, or prepared
 * now in place of the least recently used (which is deallocated); NULL with st set. */
static const char *query_statement(pg_storage *s, const char *text, size_t len, char name[32],
                                   pg_status *st)
{
    pq_conn *c = s->conn;
    PGresult *r;
    int i, victim = 0;
    for (i = 0; i < QUERY_CACHE; i++) {
        if (c->qcache[i].text && strlen(c->qcache[i].text) == len
            && memcmp(c->qcache[i].text, text, len) == 0) {
            c->qcache[i].used = ++c->qclock;
            snprintf(name, 32, "pgq%llu", (unsigned long long)c->qcache[i].name);
            return name;
        }
        if (c->qcache[i].used < c->qcache[victim].used)
            victim = i;
    }
    if (c->qcache[victim].text) {
        char dealloc[48];
        snprintf(dealloc, sizeof dealloc, "DEALLOCATE pgq%llu", (unsigned long long)c->qcache[victim].name);
        free(c->qcache[victim].text);
        c->qcache[victim].text = NULL;
        c->qcache[victim].used = 0;
        if (exec_text(s, dealloc, st) < 0)
            return NULL;
    }
    c->qcache[victim].name = ++c->qnames;
    snprintf(name, 32, "pgq%llu", (unsigned long long)c->qcache[victim].name);
    r = PQprepare(s->c, name, text, 0, NULL);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        fail_res(s, r, st);
        PQclear(r);
        return NULL;
    }
    PQclear(r);
    if (!(c->qcache[victim].text = malloc(len + 1))) {
        pg_fail(st, PG_INTERNAL, "out of memory");
        return NULL; /* the statement stays prepared, unnamed here: the next eviction misses it */
    }
    memcpy(c->qcache[victim].text, text, len);
    c->qcache[victim].text[len] = '\0';
    c->qcache[victim].used = ++c->qclock;
    return name;
}

static int run_query(pg_storage *s, const pg_query *q, int items, int64_t gallery_key,
                     int64_t limit, pg_arena *a, PGresult **out, pg_status *st)
{
    pq_params *p = pg_arena_alloc(a, sizeof *p);
    pg_sql_build b;
    char stack[1024];
    const char *name;
    char namebuf[32];
    PGresult *r;
    ExecStatusType t;
    *out = NULL;
    if (!p)
        return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
    p->a = a;
    b.d = &pq_dialect;
    b.ud = p;
    pg_strbuf_init(&b.sql, stack, sizeof stack);
    if (!pg_sql_compile(&b, q, items, gallery_key, limit)) {
        pg_strbuf_free(&b.sql);
        return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
    }
    pg_strbuf_addc(&b.sql, '\0');
    if (b.sql.oom || drain(s, st) < 0 || (lost(s) && fail_res(s, NULL, st) < 0)) {
        if (b.sql.oom)
            pg_fail(st, PG_INTERNAL, "out of memory");
        pg_strbuf_free(&b.sql);
        return -1;
    }
    if (!(name = query_statement(s, b.sql.buf, b.sql.len - 1, namebuf, st))) {
        pg_strbuf_free(&b.sql);
        return -1;
    }
    r = PQexecPrepared(s->c, name, b.nparams, p->vals, p->lens, p->fmts, 0);
    pg_strbuf_free(&b.sql);
    t = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (t != PGRES_TUPLES_OK) {
        fail_res(s, r, st);
        PQclear(r);
        return -1;
    }
    *out = r;
    return 1;
}

static int pq_item_query(pg_storage *s, int64_t gallery_key, const pg_query *q, int64_t limit,
                         pg_arena *a, pg_item_row **rows, size_t *n, pg_status *st)
{
    PGresult *r;
    *rows = NULL;
    *n = 0;
    if (run_query(s, q, 1, gallery_key, limit, a, &r, st) < 0)
        return -1;
    return item_rows(r, gallery_key, a, rows, n, st);
}

static int pq_gallery_query(pg_storage *s, const pg_query *q, int64_t limit, pg_arena *a,
                            pg_gallery_row **rows, size_t *n, pg_status *st)
{
    PGresult *r;
    *rows = NULL;
    *n = 0;
    if (run_query(s, q, 0, 0, limit, a, &r, st) < 0)
        return -1;
    return gallery_rows(r, a, rows, n, st);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int pq_query_secret(pg_storage *s, unsigned char out[PG_QUERY_SECRET_LEN], pg_status *st)
{
    PGresult *r;
    const char *hex;
    int i, ok;
    if (run_q(s, Q_SECRET, 0, NULL, NULL, NULL, &r, st) < 0)
        return -1;
    ok = PQntuples(r) == 1 && PQgetlength(r, 0, 0) == 2 * PG_QUERY_SECRET_LEN;
    hex = ok ? PQgetvalue(r, 0, 0) : NULL;
    for (i = 0; ok && i < PG_QUERY_SECRET_LEN; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        ok = hi >= 0 && lo >= 0;
        out[i] = (unsigned char)(hi * 16 + lo);
    }
    PQclear(r);
    return ok ? 1 : (pg_fail(st, PG_INTERNAL, "database damaged: the cursor secret is missing"), -1);
}

const pg_storage_ops pg_postgres_ops = {
    .name = "postgres",
    .version = PG_STORAGE_VERSION,
    .open = pq_open,
    .close = pq_close,
    .begin = pq_begin,
    .data_version = pq_data_version,
    .commit = pq_commit,
    .rollback = pq_rollback,
    .gallery_find = pq_gallery_find,
    .gallery_insert = pq_gallery_insert,
    .gallery_update = pq_gallery_update,
    .gallery_delete = pq_gallery_delete,
    .gallery_count = pq_gallery_count,
    .gallery_max_sort = pq_gallery_max_sort,
    .gallery_page = pq_gallery_page,
    .item_find = pq_item_find,
    .item_insert = pq_item_insert,
    .item_update = pq_item_update,
    .item_delete = pq_item_delete,
    .item_max_sort = pq_item_max_sort,
    .item_page = pq_item_page,
    .items_clone = pq_items_clone,
    .items_delete_some = pq_items_delete_some,
    .event_append = pq_event_append,
    .event_page = pq_event_page,
    .feed_state = pq_feed_state,
    .event_prune = pq_event_prune,
    .cursor_get = pq_cursor_get,
    .cursor_set = pq_cursor_set,
    .lease_take = pq_lease_take,
    .cursor_page = pq_cursor_page,
    .entity_seq_page = pq_entity_seq_page,
    .entity_seq_set = pq_entity_seq_set,
    .feed_restore = pq_feed_restore,
    .event_restore = pq_event_restore,
    .item_query = pq_item_query,
    .gallery_query = pq_gallery_query,
    .query_secret = pq_query_secret,
    .item_neighbours = pq_item_neighbours,
    .item_move = pq_item_move,
    .items_renumber = pq_items_renumber,
    .items_find = pq_items_find,
};
