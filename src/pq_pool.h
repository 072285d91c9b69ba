/* Idle libpq connections of this process, shared by every store on the same settings
 * (pq_pool.c). A store takes one for a call and gives it back when the call ends, so a
 * process holds as many connections as it runs calls at once: in nginx, the thread pool's
 * threads, however many Lua VMs lua-nginx-module makes for them (it makes one per task
 * queued, so one connection per VM grew with the requests in flight: bench/pg_conns.sh). */
#ifndef PG_PQ_POOL_H
#define PG_PQ_POOL_H

#include <libpq-fe.h>
#include <sys/types.h>

/* The engine's connection begins with this (the pool links and closes it). */
typedef struct pq_pooled {
    struct pq_pooled *next;
    PGconn *c;
    pid_t pid; /* the process that connected it: a forked child must not use it */
} pq_pooled;

/* A store of key opens and closes: the idle connections of a key stay while a store of
 * it is open (0 from open: out of memory). */
int pq_pool_open(const char *key);
void pq_pool_close(const char *key);
/* An idle connection for key (the conninfo and the session's settings), or NULL. */
pq_pooled *pq_pool_take(const char *key);
/* Keeps c for the next taker of key; a connection in a bad state is closed instead,
 * and so is every idle one of key (after a lost connection they are likely lost too:
 * a failover, a restart). free_fn frees what the engine allocated around it. */
void pq_pool_give(const char *key, pq_pooled *c, void (*free_fn)(pq_pooled *));
/* Idle connections of all keys (for the tests and the bench). */
int pq_pool_idle(void);

#endif
