/* SQLite engine of the storage interface. All SQL of the project lives here.
 * One connection per store; statements are prepared once per connection and
 * reset on every exit path, so none stays active between API calls. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "model.h" /* pg_doc_upgrade: what a document becomes is the model's */
#include "storage.h"

#define SCHEMA_VERSION 2
/* Schema 2 (progallery 0.2): the same tables; item documents hold media as Wix's
 * REST objects instead of Velo strings (API.md section 12). */
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

enum {
    Q_BEGIN_READ, Q_BEGIN_WRITE, Q_COMMIT, Q_ROLLBACK, Q_DATA_VERSION,
    Q_GALLERY_FIND, Q_GALLERY_INSERT, Q_GALLERY_UPDATE, Q_GALLERY_DELETE_ITEMS,
    Q_GALLERY_DELETE, Q_GALLERY_COUNT, Q_GALLERY_MAX_SORT, Q_GALLERY_PAGE,
    Q_ITEM_FIND, Q_ITEM_INSERT, Q_ITEM_UPDATE, Q_ITEM_DELETE, Q_ITEM_MAX_SORT, Q_ITEM_PAGE,
    Q_ITEMS_CLONE,
    Q_COUNT
};

static const char *const sql[Q_COUNT] = {
    [Q_BEGIN_READ] = "BEGIN",
    [Q_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_DATA_VERSION] = "PRAGMA data_version",
    [Q_GALLERY_FIND] = "SELECT gid, name, sort_order, created_ms, updated_ms, item_count"
                       " FROM galleries WHERE id = ?1",
    [Q_GALLERY_INSERT] = "INSERT INTO galleries(id, name, sort_order, created_ms, updated_ms,"
                         " item_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [Q_GALLERY_UPDATE] = "UPDATE galleries SET name = ?2, sort_order = ?3, updated_ms = ?4,"
                         " item_count = ?5 WHERE gid = ?1",
    [Q_GALLERY_DELETE_ITEMS] = "DELETE FROM items WHERE gid = ?1",
    [Q_GALLERY_DELETE] = "DELETE FROM galleries WHERE gid = ?1",
    [Q_GALLERY_COUNT] = "SELECT count(*) FROM galleries",
    [Q_GALLERY_MAX_SORT] = "SELECT max(sort_order) FROM galleries",
    [Q_GALLERY_PAGE] = "SELECT gid, id, name, sort_order, created_ms, updated_ms, item_count"
                       " FROM galleries ORDER BY created_ms, gid LIMIT ?1 OFFSET ?2",
    [Q_ITEM_FIND] = "SELECT iid, gid, type, sort_order, created_ms, updated_ms, doc"
                    " FROM items WHERE id = ?1",
    [Q_ITEM_INSERT] = "INSERT INTO items(id, gid, sort_order, type, created_ms, updated_ms, doc)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [Q_ITEM_UPDATE] = "UPDATE items SET sort_order = ?2, type = ?3, updated_ms = ?4, doc = ?5"
                      " WHERE iid = ?1",
    [Q_ITEM_DELETE] = "DELETE FROM items WHERE iid = ?1",
    [Q_ITEM_MAX_SORT] = "SELECT max(sort_order) FROM items WHERE gid = ?1",
    [Q_ITEM_PAGE] = "SELECT iid, id, type, sort_order, created_ms, updated_ms, doc"
                    " FROM items WHERE gid = ?1 ORDER BY sort_order, iid LIMIT ?2 OFFSET ?3",
    /* The clone stays inside SQLite: one statement, ids from pg_uuid7. */
    [Q_ITEMS_CLONE] = "INSERT INTO items(id, gid, sort_order, type, created_ms, updated_ms, doc)"
                      " SELECT pg_uuid7(?3), ?2, ?4 + row_number() OVER (ORDER BY sort_order, iid) - 1,"
                      " type, ?3, ?3, doc FROM items WHERE gid = ?1 ORDER BY sort_order, iid",
};

struct pg_storage {
    sqlite3 *db;
    sqlite3_stmt *stmt[Q_COUNT];
    pg_idgen *ids;
    int busy_timeout_ms;
    int writing;         /* inside a write transaction */
    int64_t own_commits; /* PRAGMA data_version only counts other connections' commits */
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

static sqlite3_stmt *stmt(pg_storage *s, int q, pg_status *st)
{
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

static void sql_uuid7(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    pg_storage *s = sqlite3_user_data(ctx);
    char id[PG_UUID_LEN + 1];
    (void)argc;
    pg_uuid7(s->ids, sqlite3_value_int64(argv[0]), id);
    sqlite3_result_text(ctx, id, PG_UUID_LEN, SQLITE_TRANSIENT);
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

/* Creates or upgrades the schema. The common case (already current) takes no
 * lock, so opening a store never waits for another connection's writes; a
 * new file is set up under the write lock, so that two processes opening it
 * at once do not both create the schema. */
static int migrate(pg_storage *s, int readonly, pg_status *st)
{
    int v = 0;
    if (user_version(s, &v, st) < 0)
        return -1;
    if (v == 0 && readonly)
        return pg_fail(st, PG_FAILED_PRECONDITION,
                       "path: no progallery data in this file (open it read-write once)"), -1;
    if (v == 0) {
        if (exec(s, "BEGIN IMMEDIATE", st) < 0)
            return -1;
        if (user_version(s, &v, st) < 0)
            goto fail;
        if (v == 0 && (exec(s, schema_v1, st) < 0 || exec(s, "PRAGMA user_version = 2", st) < 0))
            goto fail;
        if (exec(s, "COMMIT", st) < 0)
            goto fail;
        if (v == 0)
            v = SCHEMA_VERSION;
    }
    if (v == 1 && readonly)
        return pg_fail(st, PG_FAILED_PRECONDITION,
                       "path: file has schema version 1; open it read-write once to upgrade it"), -1;
    if (v == 1) {
        if (exec(s, "BEGIN IMMEDIATE", st) < 0)
            return -1;
        if (user_version(s, &v, st) < 0)
            goto fail;
        if (v == 1 && (upgrade_docs(s, st) < 0 || exec(s, "PRAGMA user_version = 2", st) < 0))
            goto fail;
        if (exec(s, "COMMIT", st) < 0)
            goto fail;
        v = SCHEMA_VERSION;
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
    sqlite3_close_v2(s->db);
    free(s);
}

static int sq_open(const pg_open_opts *o, pg_idgen *ids, pg_storage **out, pg_status *st)
{
    pg_storage *s = calloc(1, sizeof *s);
    int flags = (o->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
                | SQLITE_OPEN_NOMUTEX; /* one connection per thread, never shared */
    int rc;
    *out = NULL;
    if (!s)
        return pg_fail(st, PG_INTERNAL, "out of memory"), -1;
    s->ids = ids;
    s->busy_timeout_ms = o->busy_timeout_ms;
    rc = sqlite3_open_v2(o->path, &s->db, flags, NULL);
    if (rc != SQLITE_OK) {
        /* read-only, nothing to open: the same precondition as a file never set up */
        pg_fail(st, o->readonly && (rc & 0xFF) == SQLITE_CANTOPEN ? PG_FAILED_PRECONDITION : PG_INTERNAL,
                "path: cannot open '%s': %s", o->path,
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
    rc = sqlite3_create_function(s->db, "pg_uuid7", 1, SQLITE_UTF8, s, sql_uuid7, NULL, NULL);
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
    return q ? run(s, q, st) : -1;
}

static int sq_commit(pg_storage *s, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, Q_COMMIT, st);
    if (!q || run(s, q, st) < 0)
        return -1;
    s->own_commits += s->writing;
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

/* NULL, or why the row cannot be read ("out of memory", a damaged row). */
static const char *read_gallery(pg_arena *a, sqlite3_stmt *q, int first, pg_gallery_row *g)
{
    /* columns from `first`: name, sort_order, created_ms, updated_ms, item_count */
    g->namelen = 0;
    g->name = col_text(a, q, first, &g->namelen);
    if (!g->name && sqlite3_column_type(q, first) != SQLITE_NULL)
        return "out of memory"; /* a NULL name must not be mistaken for one */
    g->sort = sqlite3_column_double(q, first + 1);
    g->created_ms = sqlite3_column_int64(q, first + 2);
    g->updated_ms = sqlite3_column_int64(q, first + 3);
    g->item_count = sqlite3_column_int64(q, first + 4);
    return check_dates(g->created_ms, g->updated_ms);
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
    if (run(s, q, st) < 0)
        return -1;
    g->key = sqlite3_last_insert_rowid(s->db);
    return 1;
}

static int sq_gallery_update(pg_storage *s, const pg_gallery_row *g, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, Q_GALLERY_UPDATE, st);
    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, g->key);
    bind_text(q, 2, g->name, g->namelen);
    bind_number(q, 3, g->sort);
    sqlite3_bind_int64(q, 4, g->updated_ms);
    sqlite3_bind_int64(q, 5, g->item_count);
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

/* columns from `first`: type, sort_order, created_ms, updated_ms, doc. NULL, or why not. */
static const char *read_item(pg_arena *a, sqlite3_stmt *q, int first, pg_item_row *it)
{
    it->type = intern_type(q, first);
    it->sort = sqlite3_column_double(q, first + 1);
    it->created_ms = sqlite3_column_int64(q, first + 2);
    it->updated_ms = sqlite3_column_int64(q, first + 3);
    it->doc = col_text(a, q, first + 4, &it->doclen);
    return it->doc ? check_dates(it->created_ms, it->updated_ms) : "out of memory";
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
                          int64_t now_ms, int64_t *copied, pg_status *st)
{
    sqlite3_stmt *q = stmt(s, Q_ITEMS_CLONE, st);
    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, src_key);
    sqlite3_bind_int64(q, 2, dst_key);
    sqlite3_bind_int64(q, 3, now_ms);
    bind_number(q, 4, first_sort);
    if (run(s, q, st) < 0)
        return -1;
    *copied = sqlite3_changes(s->db);
    return 1;
}

const pg_storage_ops pg_sqlite_ops = {
    sq_open, sq_close, sq_begin, sq_data_version, sq_commit, sq_rollback,
    sq_gallery_find, sq_gallery_insert, sq_gallery_update, sq_gallery_delete,
    sq_gallery_count, sq_gallery_max_sort, sq_gallery_page,
    sq_item_find, sq_item_insert, sq_item_update, sq_item_delete, sq_item_max_sort,
    sq_item_page, sq_items_clone,
};
