/* The raw libpq baseline of bench/pg.lua: the SQL progallery's PostgreSQL engine runs
 * for each case, with prepared statements, in plain C with no API layer (no validation,
 * no JSON, no Lua). Prints the seconds the case took.
 *   pg_raw DSN case n gallery_id [src_gallery_id]
 *   cases: item1 (n createGalleryItem transactions), items1000 (n transactions of 1,000
 *   pipelined inserts), get100 (n reads of a gallery + 100 items), clone (n clones of src) */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ids.h"

static PGconn *c;

static void die(const char *what, PGresult *r)
{
    fprintf(stderr, "pg_raw: %s: %s\n", what, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    exit(1);
}

static PGresult *ex(const char *name, int n, const char *const *v)
{
    PGresult *r = PQexecPrepared(c, name, n, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        die(name, r);
    return r;
}

static void run(const char *name, int n, const char *const *v) { PQclear(ex(name, n, v)); }

static void prep(const char *name, const char *sql)
{
    PGresult *r = PQprepare(c, name, sql, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die(name, r);
    PQclear(r);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static const char *DOC = "{\"title\":\"bench item\",\"description\":\"an item of the benchmark\"}";

int main(int argc, char **argv)
{
    const char *cas, *gid, *src = NULL;
    char slot[8], gkey[24], sort[32], tms[24], id[PG_UUID_LEN + 1], cnt[24];
    pg_idgen ids;
    double t0;
    int n, i, j;
    if (argc < 5)
        return fprintf(stderr, "usage: pg_raw DSN case n gallery_id [src]\n"), 2;
    c = PQconnectdb(argv[1]);
    if (PQstatus(c) != CONNECTION_OK)
        die("connect", NULL);
    cas = argv[2];
    n = atoi(argv[3]);
    gid = argv[4];
    if (argc > 5)
        src = argv[5];
    pg_idgen_init(&ids);
    snprintf(slot, sizeof slot, "%d", PQbackendPID(c) % 16);
    PQclear(PQexec(c, "SET synchronous_commit = on"));
    prep("begin", "BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE");
    prep("begin_ro", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    prep("commit", "COMMIT");
    prep("find_lock", "SELECT gid, name, sort_order, created_ms, updated_ms, item_count FROM galleries WHERE id = $1 FOR UPDATE");
    prep("find", "SELECT gid, name, sort_order, created_ms, updated_ms, item_count FROM galleries WHERE id = $1");
    prep("max", "SELECT max(sort_order) FROM items WHERE gid = $1");
    prep("ins", "INSERT INTO items(id, gid, sort_order, type, created_ms, updated_ms, doc) VALUES ($1, $2, $3, $4, $5, $6, $7)");
    prep("upd", "UPDATE galleries SET name = $2, sort_order = $3, updated_ms = $4, item_count = $5 WHERE gid = $1");
    prep("bump", "UPDATE progallery_changes SET n = n + 1 WHERE slot = $1");
    prep("page", "SELECT iid, id, type, sort_order, created_ms, updated_ms, doc FROM items WHERE gid = $1 ORDER BY sort_order, iid LIMIT $2 OFFSET $3");
    prep("glock", "SELECT pg_advisory_xact_lock(7135016202)");
    prep("gmax", "SELECT max(sort_order) FROM galleries");
    prep("gins", "INSERT INTO galleries(id, name, sort_order, created_ms, updated_ms, item_count) VALUES ($1, $2, $3, $4, $5, $6) RETURNING gid");
    prep("clone", "INSERT INTO items(id, gid, sort_order, type, created_ms, updated_ms, doc)"
                  " SELECT ($5::text[])[rn], $2, $4 + rn - 1, type, $3, $3, doc FROM"
                  " (SELECT row_number() OVER (ORDER BY sort_order, iid) AS rn, type, doc"
                  " FROM items WHERE gid = $1) s ORDER BY rn");
    t0 = now();
    for (i = 0; i < n; i++) {
        long long ms = (long long)(time(NULL)) * 1000;
        snprintf(tms, sizeof tms, "%lld", ms);
        if (strcmp(cas, "get100") == 0) {
            const char *v1[1] = { gid }, *v3[3];
            PGresult *r;
            run("begin_ro", 0, NULL);
            r = ex("find", 1, v1);
            snprintf(gkey, sizeof gkey, "%s", PQgetvalue(r, 0, 0));
            PQclear(r);
            v3[0] = gkey;
            v3[1] = "100";
            v3[2] = "0";
            run("page", 3, v3);
            run("commit", 0, NULL);
            continue;
        }
        run("begin", 0, NULL);
        {
            const char *v1[1] = { strcmp(cas, "clone") == 0 ? src : gid };
            PGresult *r = ex("find_lock", 1, v1);
            long long count = strtoll(PQgetvalue(r, 0, 5), NULL, 10);
            snprintf(gkey, sizeof gkey, "%s", PQgetvalue(r, 0, 0));
            PQclear(r);
            if (strcmp(cas, "clone") == 0) {
                /* a new gallery, then every item of src copied with ids made here */
                char *arr = malloc((size_t)count * (PG_UUID_LEN + 1) + 3), *p = arr, newkey[24];
                const char *vg[6], *vc[5];
                run("glock", 0, NULL);
                run("gmax", 0, NULL);
                pg_uuid7(&ids, ms, id);
                vg[0] = id; vg[1] = "clone"; vg[2] = tms; vg[3] = tms; vg[4] = tms; vg[5] = "0";
                r = ex("gins", 6, vg);
                snprintf(newkey, sizeof newkey, "%s", PQgetvalue(r, 0, 0));
                PQclear(r);
                *p++ = '{';
                for (j = 0; j < count; j++) {
                    if (j)
                        *p++ = ',';
                    pg_uuid7(&ids, ms, p);
                    p += PG_UUID_LEN;
                }
                *p++ = '}';
                *p = 0;
                vc[0] = gkey; vc[1] = newkey; vc[2] = tms; vc[3] = tms; vc[4] = arr;
                run("clone", 5, vc);
                free(arr);
                snprintf(cnt, sizeof cnt, "%lld", count);
                {
                    const char *vu[5] = { newkey, "clone", tms, tms, cnt };
                    run("upd", 5, vu);
                }
            } else {
                int k, m = strcmp(cas, "items1000") == 0 ? 1000 : 1;
                const char *vm[1] = { gkey };
                r = ex("max", 1, vm);
                double max = PQgetisnull(r, 0, 0) ? 0 : strtod(PQgetvalue(r, 0, 0), NULL);
                PQclear(r);
                if (m > 1 && !PQenterPipelineMode(c))
                    die("pipeline", NULL);
                for (k = 0; k < m; k++) {
                    const char *vi[7];
                    pg_uuid7(&ids, ms, id);
                    snprintf(sort, sizeof sort, "%.17g", max + 1 + k);
                    vi[0] = id; vi[1] = gkey; vi[2] = sort; vi[3] = "UNDEFINED"; vi[4] = tms; vi[5] = tms;
                    vi[6] = DOC;
                    if (m > 1) {
                        if (!PQsendQueryPrepared(c, "ins", 7, vi, NULL, NULL, 0))
                            die("send", NULL);
                    } else {
                        run("ins", 7, vi);
                    }
                    if (m > 1 && (k + 1) % 256 == 0) {
                        PQpipelineSync(c);
                        for (;;) {
                            r = PQgetResult(c);
                            if (!r)
                                continue;
                            if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
                                PQclear(r);
                                break;
                            }
                            if (PQresultStatus(r) != PGRES_COMMAND_OK)
                                die("pipelined insert", r);
                            PQclear(r);
                        }
                    }
                }
                if (m > 1) {
                    PQpipelineSync(c);
                    for (;;) {
                        r = PQgetResult(c);
                        if (!r)
                            continue;
                        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
                            PQclear(r);
                            break;
                        }
                        if (PQresultStatus(r) != PGRES_COMMAND_OK)
                            die("pipelined insert", r);
                        PQclear(r);
                    }
                    PQexitPipelineMode(c);
                }
                snprintf(cnt, sizeof cnt, "%lld", count + m);
                {
                    const char *vu[5] = { gkey, "g", tms, tms, cnt };
                    run("upd", 5, vu);
                }
            }
        }
        {
            const char *vb[1] = { slot };
            run("bump", 1, vb);
        }
        run("commit", 0, NULL);
    }
    printf("%.6f\n", now() - t0);
    PQfinish(c);
    return 0;
}
