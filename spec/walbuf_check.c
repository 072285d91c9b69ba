/* For spec/walbuf_spec.lua: SQLite through the WAL write buffer (src/walbuf.c) with a
 * page cache of 16 pages, so that every transaction spills pages to the WAL and writes
 * some of them again at its commit, after which SQLite rewrites the frames' checksums
 * (the buffer's one commit header without its page). No checkpoints: nothing reads
 * the WAL after a commit. After each commit the database and its WAL are copied, as a
 * kill -9 right then would leave them, and the copy, opened with the default VFS, must
 * hold exactly what was committed. Then rollbacks: a connection's transaction spills pages
 * and rolls back, another commits over the same part of the WAL, and the first reads: the
 * frames it never committed must not reach the file over the other's. Then padded
 * commits (synchronous = FULL, psow=0), checked by a reader after each.
 *   walbuf_check DIR ROUNDS   prints "rounds N, mismatches M, rollbacks and padded commits N,
 *                             damaged M" and exits 1 on any mismatch or damage */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "walbuf.h"

static void die(sqlite3 *db, const char *what)
{
    fprintf(stderr, "walbuf_check: %s: %s\n", what, db ? sqlite3_errmsg(db) : "");
    exit(2);
}

static void exec(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        die(db, sql);
}

static sqlite3 *open_buffered(const char *path)
{
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, PG_WALBUF_VFS) != SQLITE_OK)
        die(db, "open");
    exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = 16;"
             "PRAGMA wal_autocheckpoint = 0;");
    return db;
}

/* n rows of size bytes; from > 0: keys from, from + 1, ... (appended: the pages that
 * spill are never read again) */
static void writes(sqlite3 *db, int n, int from, int size)
{
    int i;
    char sql[128];
    for (i = 0; i < n; i++) {
        snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO t VALUES (%d, zeroblob(%d))",
                 from > 0 ? from + i : rand() % 5000, size);
        exec(db, sql);
    }
}

static void copy(const char *from, const char *to)
{
    char buf[65536];
    size_t n;
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    if (!out)
        die(NULL, to);
    while (in && (n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, out);
    if (in)
        fclose(in);
    fclose(out);
}

/* count(*), sum(k) and the sum of v's lengths: what the table holds */
static void state(sqlite3 *db, sqlite3_int64 out[3])
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, "SELECT count(*), total(k), total(length(v)) FROM t", -1, &q, NULL) != SQLITE_OK
        || sqlite3_step(q) != SQLITE_ROW)
        die(db, "state");
    out[0] = sqlite3_column_int64(q, 0);
    out[1] = (sqlite3_int64)sqlite3_column_double(q, 1);
    out[2] = (sqlite3_int64)sqlite3_column_double(q, 2);
    sqlite3_finalize(q);
}

int main(int argc, char **argv)
{
    char path[4096], wal[4200], cpath[4200], cwal[4300], cshm[4300];
    int rounds = argc > 2 ? atoi(argv[2]) : 20, r, i, bad = 0;
    sqlite3 *db, *check;
    sqlite3_stmt *ins, *upd;
    if (argc < 2 || !pg_walbuf_acquire())
        return 2;
    snprintf(path, sizeof path, "%s/check.db", argv[1]);
    snprintf(wal, sizeof wal, "%s-wal", path);
    snprintf(cpath, sizeof cpath, "%s/copy.db", argv[1]);
    snprintf(cwal, sizeof cwal, "%s-wal", cpath);
    snprintf(cshm, sizeof cshm, "%s-shm", cpath);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, PG_WALBUF_VFS) != SQLITE_OK)
        die(db, "open");
    exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = 16;"
             "PRAGMA wal_autocheckpoint = 0;"
             "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB); CREATE INDEX t_v ON t(v)");
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO t VALUES (?1, randomblob(?2))", -1, &ins, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(db, "UPDATE t SET v = randomblob(?2) WHERE k = ?1", -1, &upd, NULL) != SQLITE_OK)
        die(db, "prepare");
    srand(1);
    for (r = 1; r <= rounds; r++) {
        sqlite3_int64 want[3], got[3];
        exec(db, "BEGIN");
        for (i = 0; i < 300; i++) {
            sqlite3_stmt *q = i % 3 == 2 ? upd : ins;
            sqlite3_bind_int64(q, 1, rand() % 5000);
            sqlite3_bind_int(q, 2, 50 + rand() % 300);
            if (sqlite3_step(q) != SQLITE_DONE)
                die(db, "write");
            sqlite3_reset(q);
        }
        exec(db, "COMMIT");
        /* copied before anything reads the WAL through the buffer, which would flush it */
        remove(cshm);
        copy(path, cpath);
        copy(wal, cwal);
        state(db, want);
        if (sqlite3_open_v2(cpath, &check, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
            die(check, "open the copy");
        state(check, got);
        if (memcmp(want, got, sizeof want) != 0) {
            fprintf(stderr, "walbuf_check: round %d: committed %lld rows, the copy holds %lld\n", r,
                    (long long)want[0], (long long)got[0]);
            bad++;
        }
        sqlite3_close(check);
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(upd);
    {
        sqlite3 *other = open_buffered(path);
        int damaged = 0;
        for (r = 1; r <= rounds; r++) {
            sqlite3_int64 want[3], got[3];
            /* the WAL emptied first, so that the rollback reads nothing back from it; then a
             * page a row, more than the cache: pages spill to the WAL from its start, where
             * the other connection's commit goes next */
            exec(other, "PRAGMA wal_checkpoint(TRUNCATE)");
            exec(db, "BEGIN");
            writes(db, 24, 100000 + 100 * r, 3000);
            exec(db, "ROLLBACK");
            exec(other, "BEGIN");
            writes(other, 3, 0, 200);
            exec(other, "COMMIT");
            state(db, got); /* the first connection reads: its buffer must hold nothing */
            state(other, want);
            if (sqlite3_open_v2(path, &check, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
                die(check, "open a third connection");
            sqlite3_exec(check, "PRAGMA cache_size = 0", NULL, NULL, NULL);
            if (sqlite3_prepare_v2(check, "SELECT count(*), total(k), total(length(v)) FROM t", -1, &ins, NULL)
                    != SQLITE_OK
                || sqlite3_step(ins) != SQLITE_ROW) {
                fprintf(stderr, "walbuf_check: rollback round %d: %s\n", r, sqlite3_errmsg(check));
                damaged++;
            } else if (sqlite3_column_int64(ins, 0) != want[0]
                       || (sqlite3_int64)sqlite3_column_double(ins, 1) != want[1]
                       || (sqlite3_int64)sqlite3_column_double(ins, 2) != want[2]) {
                fprintf(stderr, "walbuf_check: rollback round %d: committed %lld rows, a third connection reads %lld\n",
                        r, (long long)want[0], (long long)sqlite3_column_int64(ins, 0));
                damaged++;
            }
            sqlite3_finalize(ins);
            sqlite3_close(check);
            (void)got;
        }
        sqlite3_close(other);
        sqlite3_close(db);
        /* synchronous = FULL on a file that is not powersafe-overwrite (psow=0): SQLite pads
         * each commit to a sector with frames it writes after the commit frame and publishes
         * with it; a reader on the default VFS checks the file after each commit */
        {
            char uri[4300], plain[4300];
            sqlite3 *reader;
            snprintf(uri, sizeof uri, "file:%s/pad.db?psow=0", argv[1]);
            snprintf(plain, sizeof plain, "%s/pad.db", argv[1]);
            if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI,
                                PG_WALBUF_VFS) != SQLITE_OK)
                die(db, "open pad.db");
            exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 0;"
                     "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
            if (sqlite3_open_v2(plain, &reader, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
                die(reader, "open pad.db to read");
            for (r = 1; r <= rounds; r++) {
                writes(db, 1, 0, 100 + 37 * r);
                if (sqlite3_prepare_v2(reader, "PRAGMA integrity_check", -1, &ins, NULL) != SQLITE_OK
                    || sqlite3_step(ins) != SQLITE_ROW
                    || strcmp((const char *)sqlite3_column_text(ins, 0), "ok") != 0) {
                    fprintf(stderr, "walbuf_check: padded round %d: %s\n", r,
                            sqlite3_column_text(ins, 0) ? (const char *)sqlite3_column_text(ins, 0)
                                                        : sqlite3_errmsg(reader));
                    damaged++;
                }
                sqlite3_finalize(ins);
            }
            sqlite3_close(reader);
            sqlite3_close(db);
        }
        pg_walbuf_release();
        printf("rounds %d, mismatches %d, rollbacks and padded commits %d, damaged %d\n", rounds, bad, rounds,
               damaged);
        return bad || damaged ? 1 : 0;
    }
}
