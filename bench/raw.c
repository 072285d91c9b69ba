/* The limit: the SQL work progallery does for each benchmark case, written
 * directly against the SQLite C API. Same schema (the file is created by
 * progallery.open), same statements (copied from src/storage_sqlite.c),
 * prepared once with SQLITE_PREPARE_PERSISTENT, SQLITE_STATIC binds, reset and
 * clear_bindings after each use, WAL through the same VFS (src/walbuf.c: a
 * transaction's frames in one write; RAW_STOCK_VFS=1 takes SQLite's default VFS
 * instead, to see what the buffer saves), the same synchronous setting, and the
 * same transaction per API call (BEGIN IMMEDIATE for writes, BEGIN for reads).
 * What it leaves out is everything that is not SQL: argument validation, JSON
 * encoding/decoding of the item document, result trees and Lua tables. Rows
 * read are copied into a buffer (memcpy of every column), as a stand-in for
 * materialising them.
 *
 *   raw create1  DB N full|normal GALLERY_ID DOCFILE   N x createGalleryItem
 *   raw createN  DB N normal GALLERY_ID DOCFILE        N x createGalleryItems(1000 items)
 *   raw get      DB N GALLERY_ID LIMIT                 N x getGallery(id, {itemLimit=LIMIT})
 *   raw list     DB N OFFSET ITEMLIMIT                 N x listGalleries{offset=, itemLimit=}
 *   raw clone    DB N SRC_ID                           N x createGallery{cloneFromGalleryId=}
 *   raw delete   DB N ID1,ID2,...                      N x deleteGallery(id)
 *   raw update   DB N GALLERY_ID ITEM_ID               N x updateGalleryItem(title changed)
 *   raw fill     DB N                                  setup: append N empty galleries
 *
 * Each timed case prints "<seconds> <calls>" (CLOCK_MONOTONIC around the calls only). */
#define _POSIX_C_SOURCE 200809L
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ids.h"
#include "walbuf.h"

#define UUID_LEN PG_UUID_LEN

enum {
    Q_BEGIN_READ, Q_BEGIN_WRITE, Q_COMMIT,
    Q_GALLERY_FIND, Q_GALLERY_INSERT, Q_GALLERY_TOUCH, Q_GALLERY_DELETE_ITEMS,
    Q_GALLERY_DELETE, Q_GALLERY_COUNT, Q_GALLERY_MAX_SORT, Q_GALLERY_PAGE,
    Q_ITEM_FIND, Q_ITEM_INSERT, Q_ITEM_UPDATE, Q_ITEM_MAX_SORT, Q_ITEM_PAGE,
    Q_ITEMS_CLONE,
    Q_COUNT
};

/* Verbatim from src/storage_sqlite.c. */
static const char *const sql[Q_COUNT] = {
    [Q_BEGIN_READ] = "BEGIN",
    [Q_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_GALLERY_FIND] = "SELECT gid, name, sort_order, created_ms, updated_ms, item_count"
                       " FROM galleries WHERE id = ?1",
    [Q_GALLERY_INSERT] = "INSERT INTO galleries(id, name, sort_order, created_ms, updated_ms,"
                         " item_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    /* an item write leaves the gallery's name and sort_order (and their indexes) alone */
    [Q_GALLERY_TOUCH] = "UPDATE galleries SET updated_ms = ?4, item_count = ?5 WHERE gid = ?1",
    [Q_GALLERY_DELETE_ITEMS] = "DELETE FROM items WHERE gid = ?1",
    [Q_GALLERY_DELETE] = "DELETE FROM galleries WHERE gid = ?1",
    [Q_GALLERY_COUNT] = "SELECT galleries FROM site_counts WHERE one = 1",
    [Q_GALLERY_MAX_SORT] = "SELECT max(sort_order) FROM galleries",
    [Q_GALLERY_PAGE] = "SELECT gid, id, name, sort_order, created_ms, updated_ms, item_count"
                       " FROM galleries ORDER BY created_ms, gid LIMIT ?1 OFFSET ?2",
    [Q_ITEM_FIND] = "SELECT iid, gid, type, sort_order, created_ms, updated_ms, doc"
                    " FROM items WHERE id = ?1",
    [Q_ITEM_INSERT] = "INSERT INTO items(id, gid, sort_order, type, created_ms, updated_ms, doc)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [Q_ITEM_UPDATE] = "UPDATE items SET sort_order = ?2, type = ?3, updated_ms = ?4, doc = ?5"
                      " WHERE iid = ?1",
    [Q_ITEM_MAX_SORT] = "SELECT max(sort_order) FROM items WHERE gid = ?1",
    [Q_ITEM_PAGE] = "SELECT iid, id, type, sort_order, created_ms, updated_ms, doc"
                    " FROM items WHERE gid = ?1 ORDER BY sort_order, iid LIMIT ?2 OFFSET ?3",
    [Q_ITEMS_CLONE] = "INSERT INTO items(id, gid, sort_order, type, created_ms, updated_ms, doc)"
                      " SELECT pg_uuid7(?3), ?2, ?4 + row_number() OVER (ORDER BY sort_order, iid) - 1,"
                      " type, ?3, ?3, doc FROM items WHERE gid = ?1 ORDER BY sort_order, iid",
};

static sqlite3 *db;
static sqlite3_stmt *st[Q_COUNT];

static void die(const char *what)
{
    fprintf(stderr, "raw: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
    exit(1);
}

static sqlite3_stmt *S(int q)
{
    if (!st[q] && sqlite3_prepare_v3(db, sql[q], -1, SQLITE_PREPARE_PERSISTENT, &st[q], NULL))
        die(sql[q]);
    return st[q];
}

static void run(sqlite3_stmt *q)
{
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    if (rc != SQLITE_DONE)
        die("step");
}

static void finish(sqlite3_stmt *q, int rc)
{
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        die("step");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ids and clock: the very code progallery uses (src/ids.c) */
static pg_idgen ids;
#define now_ms pg_now_ms

static void uuid7(int64_t ms, char out[UUID_LEN + 1])
{
    pg_uuid7(&ids, ms, out);
}

static void sql_uuid7(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    char id[UUID_LEN + 1];
    (void)argc;
    uuid7(sqlite3_value_int64(argv[0]), id);
    sqlite3_result_text(ctx, id, UUID_LEN, SQLITE_TRANSIENT);
}

/* ---- a buffer standing in for result materialisation ---- */
static char *buf;
static size_t bufcap, buflen;

static void keep(const void *p, size_t n)
{
    if (buflen + n > bufcap) {
        bufcap = (buflen + n) * 2 + 4096;
        if (!(buf = realloc(buf, bufcap)))
            die("oom");
    }
    if (n)
        memcpy(buf + buflen, p, n);
    buflen += n;
}

static void keep_col(sqlite3_stmt *q, int c)
{
    if (sqlite3_column_type(q, c) == SQLITE_TEXT) {
        const unsigned char *t = sqlite3_column_text(q, c);
        keep(t, (size_t)sqlite3_column_bytes(q, c));
    } else {
        double d = sqlite3_column_double(q, c);
        keep(&d, sizeof d);
    }
}

/* ---- the shared steps of api.c ---- */
typedef struct {
    int64_t key, created, updated, count;
    double sort;
    char name[1100];
    int namelen, hasname;
    char id[UUID_LEN + 1];
} gallery;

static int find_gallery(const char *id, gallery *g)
{
    sqlite3_stmt *q = S(Q_GALLERY_FIND);
    int rc, found = 0;
    sqlite3_bind_text(q, 1, id, UUID_LEN, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        found = 1;
        g->key = sqlite3_column_int64(q, 0);
        g->hasname = sqlite3_column_type(q, 1) != SQLITE_NULL;
        g->namelen = sqlite3_column_bytes(q, 1);
        if (g->hasname)
            memcpy(g->name, sqlite3_column_text(q, 1), (size_t)g->namelen);
        g->sort = sqlite3_column_double(q, 2);
        g->created = sqlite3_column_int64(q, 3);
        g->updated = sqlite3_column_int64(q, 4);
        g->count = sqlite3_column_int64(q, 5);
        memcpy(g->id, id, UUID_LEN + 1);
    }
    finish(q, rc);
    if (!found)
        die("gallery not found");
    return found;
}

static void bind_number(sqlite3_stmt *q, int i, double n)
{
    if (n == (double)(int64_t)n)
        sqlite3_bind_int64(q, i, (int64_t)n);
    else
        sqlite3_bind_double(q, i, n);
}

static void update_gallery(const gallery *g)
{
    sqlite3_stmt *q = S(Q_GALLERY_TOUCH);
    sqlite3_bind_int64(q, 1, g->key);
    sqlite3_bind_int64(q, 4, g->updated);
    sqlite3_bind_int64(q, 5, g->count);
    run(q);
}

static int scalar(int which, int64_t key, double *out)
{
    sqlite3_stmt *q = S(which);
    int rc, has;
    if (sqlite3_bind_parameter_count(q) > 0)
        sqlite3_bind_int64(q, 1, key);
    rc = sqlite3_step(q);
    has = rc == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL;
    *out = has ? sqlite3_column_double(q, 0) : 0;
    finish(q, rc);
    return has;
}

static double next_sort(double max, int has, int64_t now)
{
    return has && max + 1 > (double)now ? max + 1 : (double)now;
}

static int64_t later(int64_t prev, int64_t now) { return now > prev ? now : prev + 1; }

static void item_page(int64_t gkey, int64_t limit, int64_t offset)
{
    sqlite3_stmt *q = S(Q_ITEM_PAGE);
    int rc, c;
    sqlite3_bind_int64(q, 1, gkey);
    sqlite3_bind_int64(q, 2, limit);
    sqlite3_bind_int64(q, 3, offset);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        for (c = 0; c < 7; c++)
            keep_col(q, c);
    finish(q, rc);
}

static const char *doc;
static int doclen;

static void create_items(const char *gid, int n)
{
    gallery g;
    double max;
    int has, i;
    int64_t now = now_ms();
    run(S(Q_BEGIN_WRITE));
    find_gallery(gid, &g);
    has = scalar(Q_ITEM_MAX_SORT, g.key, &max);
    for (i = 0; i < n; i++) {
        sqlite3_stmt *q = S(Q_ITEM_INSERT);
        char id[UUID_LEN + 1];
        double sort = next_sort(max, has, now);
        uuid7(now, id);
        sqlite3_bind_text(q, 1, id, UUID_LEN, SQLITE_STATIC);
        sqlite3_bind_int64(q, 2, g.key);
        bind_number(q, 3, sort);
        sqlite3_bind_text(q, 4, "IMAGE", -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 5, now);
        sqlite3_bind_int64(q, 6, now);
        sqlite3_bind_text(q, 7, doc, doclen, SQLITE_STATIC);
        run(q);
        max = sort;
        has = 1;
    }
    g.count += n;
    g.updated = later(g.updated, now);
    update_gallery(&g);
    run(S(Q_COMMIT));
}

static void get_gallery(const char *gid, int64_t limit)
{
    gallery g;
    buflen = 0;
    run(S(Q_BEGIN_READ));
    find_gallery(gid, &g);
    item_page(g.key, limit, 0);
    run(S(Q_COMMIT));
}

static void list_galleries(int64_t offset, int64_t item_limit)
{
    sqlite3_stmt *q;
    double total;
    int64_t keys[10];
    int n = 0, rc, c, i;
    buflen = 0;
    run(S(Q_BEGIN_READ));
    scalar(Q_GALLERY_COUNT, 0, &total);
    q = S(Q_GALLERY_PAGE);
    sqlite3_bind_int64(q, 1, 10);
    sqlite3_bind_int64(q, 2, offset);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        keys[n++] = sqlite3_column_int64(q, 0);
        for (c = 1; c < 7; c++)
            keep_col(q, c);
    }
    finish(q, rc);
    for (i = 0; i < n; i++)
        item_page(keys[i], item_limit, 0);
    run(S(Q_COMMIT));
}

static void clone_gallery(const char *src_id)
{
    gallery src, g;
    double max;
    int has;
    int64_t now = now_ms();
    sqlite3_stmt *q;
    buflen = 0;
    run(S(Q_BEGIN_WRITE));
    find_gallery(src_id, &src);
    has = scalar(Q_GALLERY_MAX_SORT, 0, &max);
    memset(&g, 0, sizeof g);
    g.sort = next_sort(max, has, now);
    g.hasname = src.hasname;
    g.namelen = src.namelen;
    memcpy(g.name, src.name, (size_t)src.namelen);
    g.created = g.updated = now;
    uuid7(now, g.id);
    q = S(Q_GALLERY_INSERT);
    sqlite3_bind_text(q, 1, g.id, UUID_LEN, SQLITE_STATIC);
    if (g.hasname)
        sqlite3_bind_text(q, 2, g.name, g.namelen, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, 2);
    bind_number(q, 3, g.sort);
    sqlite3_bind_int64(q, 4, now);
    sqlite3_bind_int64(q, 5, now);
    sqlite3_bind_int64(q, 6, 0);
    run(q);
    g.key = sqlite3_last_insert_rowid(db);
    q = S(Q_ITEMS_CLONE);
    sqlite3_bind_int64(q, 1, src.key);
    sqlite3_bind_int64(q, 2, g.key);
    sqlite3_bind_int64(q, 3, now);
    bind_number(q, 4, (double)now);
    run(q);
    g.count = sqlite3_changes(db);
    update_gallery(&g);
    item_page(g.key, 50, 0); /* createGallery returns the first page */
    run(S(Q_COMMIT));
}

static void delete_gallery(const char *id)
{
    gallery g;
    sqlite3_stmt *q;
    run(S(Q_BEGIN_WRITE));
    find_gallery(id, &g);
    q = S(Q_GALLERY_DELETE_ITEMS);
    sqlite3_bind_int64(q, 1, g.key);
    run(q);
    q = S(Q_GALLERY_DELETE);
    sqlite3_bind_int64(q, 1, g.key);
    run(q);
    run(S(Q_COMMIT));
}

static void update_item(const char *gid, const char *iid)
{
    gallery g;
    sqlite3_stmt *q;
    int rc;
    int64_t key, now = now_ms(), updated;
    double sort;
    const char *type;
    run(S(Q_BEGIN_WRITE));
    find_gallery(gid, &g);
    q = S(Q_ITEM_FIND);
    sqlite3_bind_text(q, 1, iid, UUID_LEN, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc != SQLITE_ROW || sqlite3_column_int64(q, 1) != g.key)
        die("item not found");
    key = sqlite3_column_int64(q, 0);
    type = strcmp((const char *)sqlite3_column_text(q, 2), "IMAGE") == 0 ? "IMAGE" : "UNDEFINED";
    sort = sqlite3_column_double(q, 3);
    updated = sqlite3_column_int64(q, 5);
    buflen = 0;
    keep_col(q, 6); /* the stored document; the "patched" one written back is the same text */
    finish(q, rc);
    q = S(Q_ITEM_UPDATE);
    sqlite3_bind_int64(q, 1, key);
    bind_number(q, 2, sort);
    sqlite3_bind_text(q, 3, type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, later(updated, now));
    sqlite3_bind_text(q, 5, buf, (int)buflen, SQLITE_STATIC);
    run(q);
    g.updated = later(g.updated, now);
    update_gallery(&g);
    run(S(Q_COMMIT));
}

static void fill(int n)
{
    int64_t base = now_ms() - n - 1000;
    sqlite3_stmt *q = S(Q_GALLERY_INSERT);
    int i;
    run(S(Q_BEGIN_WRITE));
    for (i = 0; i < n; i++) {
        char id[UUID_LEN + 1];
        char name[32];
        int len = snprintf(name, sizeof name, "gallery %d", i);
        uuid7(base + i, id);
        sqlite3_bind_text(q, 1, id, UUID_LEN, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, name, len, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, base + i);
        sqlite3_bind_int64(q, 4, base + i);
        sqlite3_bind_int64(q, 5, base + i);
        sqlite3_bind_int64(q, 6, 0);
        run(q);
    }
    run(S(Q_COMMIT));
}

static void read_doc(const char *path)
{
    FILE *f = fopen(path, "rb");
    static char d[1 << 16];
    size_t n;
    if (!f)
        die(path);
    n = fread(d, 1, sizeof d - 1, f);
    fclose(f);
    while (n && (d[n - 1] == '\n' || d[n - 1] == '\r'))
        n--;
    d[n] = '\0';
    doc = d;
    doclen = (int)n;
}

static void usage(void)
{
    fprintf(stderr, "usage: raw create1|createN|get|list|clone|delete|update|fill DB N ...\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *mode, *path;
    int n, i, full = 0, stock;
    double t0, t1;
    if (argc < 4)
        usage();
    pg_idgen_init(&ids);
    mode = argv[1];
    path = argv[2];
    n = atoi(argv[3]);
    if ((strcmp(mode, "create1") == 0 || strcmp(mode, "createN") == 0)) {
        if (argc < 7)
            usage();
        full = strcmp(argv[4], "full") == 0;
        read_doc(argv[6]);
    }
    stock = getenv("RAW_STOCK_VFS") && strcmp(getenv("RAW_STOCK_VFS"), "1") == 0;
    if (!stock && !pg_walbuf_acquire())
        die("walbuf");
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, stock ? NULL : PG_WALBUF_VFS)
        != SQLITE_OK)
        die("open");
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL)
        || sqlite3_exec(db, full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
                        NULL, NULL, NULL))
        die("pragma");
    if (sqlite3_create_function(db, "pg_uuid7", 1, SQLITE_UTF8, NULL, sql_uuid7, NULL, NULL))
        die("create_function");

    if (strcmp(mode, "fill") == 0) {
        fill(n);
        sqlite3_close(db);
        return 0;
    }
    t0 = now_s();
    if (strcmp(mode, "create1") == 0) {
        for (i = 0; i < n; i++)
            create_items(argv[5], 1);
    } else if (strcmp(mode, "createN") == 0) {
        for (i = 0; i < n; i++)
            create_items(argv[5], 1000);
    } else if (strcmp(mode, "get") == 0 && argc >= 6) {
        int64_t limit = atoll(argv[5]);
        for (i = 0; i < n; i++)
            get_gallery(argv[4], limit);
    } else if (strcmp(mode, "list") == 0 && argc >= 6) {
        int64_t off = atoll(argv[4]), il = atoll(argv[5]);
        for (i = 0; i < n; i++)
            list_galleries(off, il);
    } else if (strcmp(mode, "clone") == 0 && argc >= 5) {
        for (i = 0; i < n; i++)
            clone_gallery(argv[4]);
    } else if (strcmp(mode, "delete") == 0 && argc >= 5) {
        char *ids = argv[4];
        for (i = 0; i < n; i++) {
            char id[UUID_LEN + 1];
            memcpy(id, ids + i * (UUID_LEN + 1), UUID_LEN);
            id[UUID_LEN] = '\0';
            delete_gallery(id);
        }
    } else if (strcmp(mode, "update") == 0 && argc >= 6) {
        for (i = 0; i < n; i++)
            update_item(argv[4], argv[5]);
    } else {
        usage();
    }
    t1 = now_s();
    printf("%.9f %d\n", t1 - t0, n);
    for (i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(st[i]);
    free(buf);
    sqlite3_close(db);
    return 0;
}
