/* The process's idle PostgreSQL connections, by key (pq_pool.h). A mutex guards the lists:
 * nginx's worker threads take and give from their own Lua VMs at once. A connection made
 * before a fork belongs to the parent: the child forgets the lists (without closing the
 * parent's sockets) and connects anew. */
#include "pq_pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* More idle connections than this for one key are closed: a process never runs that
 * many calls at once unless something is wrong, and each is a backend on the server. */
#define IDLE_MAX 64

typedef struct pool_key {
    struct pool_key *next;
    char *key;
    pq_pooled *idle;
    int n, stores;
    void (*free_fn)(pq_pooled *);
} pool_key;

static char *copy(const char *t)
{
    size_t n = strlen(t) + 1;
    char *d = malloc(n);
    return d ? memcpy(d, t, n) : NULL;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pool_key *keys;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void forget(void) { keys = NULL; } /* in a forked child: the parent's connections */
static void setup(void) { pthread_atfork(NULL, NULL, forget); }

static pool_key *find(const char *key)
{
    pool_key *k;
    for (k = keys; k; k = k->next)
        if (strcmp(k->key, key) == 0)
            return k;
    return NULL;
}

static void close_all(pq_pooled *p, void (*free_fn)(pq_pooled *))
{
    while (p) {
        pq_pooled *next = p->next;
        PQfinish(p->c);
        free_fn(p);
        p = next;
    }
}

int pq_pool_open(const char *key)
{
    pool_key *k;
    pthread_once(&once, setup);
    pthread_mutex_lock(&lock);
    if (!(k = find(key)) && (k = calloc(1, sizeof *k))) {
        if (!(k->key = copy(key))) {
            free(k);
            k = NULL;
        } else {
            k->next = keys;
            keys = k;
        }
    }
    if (k)
        k->stores++;
    pthread_mutex_unlock(&lock);
    return k != NULL;
}

void pq_pool_close(const char *key)
{
    pool_key *k, **at;
    pthread_mutex_lock(&lock);
    for (at = &keys; (k = *at) && strcmp(k->key, key) != 0; at = &k->next)
        ;
    if (k && --k->stores <= 0)
        *at = k->next;
    else
        k = NULL;
    pthread_mutex_unlock(&lock);
    if (k) {
        if (k->free_fn)
            close_all(k->idle, k->free_fn);
        free(k->key);
        free(k);
    }
}

pq_pooled *pq_pool_take(const char *key)
{
    pq_pooled *p = NULL;
    pool_key *k;
    pthread_once(&once, setup);
    pthread_mutex_lock(&lock);
    if ((k = find(key)) && k->idle) {
        p = k->idle;
        k->idle = p->next;
        k->n--;
        p->next = NULL;
    }
    pthread_mutex_unlock(&lock);
    return p;
}

void pq_pool_give(const char *key, pq_pooled *c, void (*free_fn)(pq_pooled *))
{
    pool_key *k;
    pq_pooled *drop = NULL;
    if (!c)
        return;
    if (c->pid != getpid()) { /* not ours to close */
        free_fn(c);
        return;
    }
    pthread_mutex_lock(&lock);
    if ((k = find(key)))
        k->free_fn = free_fn;
    if (!k || PQstatus(c->c) != CONNECTION_OK || PQtransactionStatus(c->c) != PQTRANS_IDLE) {
        /* no store of key is open (or out of memory), or the connection is lost: with
         * it go the key's idle ones */
        c->next = k ? k->idle : NULL;
        drop = c;
        if (k) {
            k->idle = NULL;
            k->n = 0;
        }
    } else if (k->n >= IDLE_MAX) {
        drop = c;
    } else {
        c->next = k->idle;
        k->idle = c;
        k->n++;
    }
    pthread_mutex_unlock(&lock);
    close_all(drop, free_fn);
}

int pq_pool_idle(void)
{
    int n = 0;
    pool_key *k;
    pthread_mutex_lock(&lock);
    for (k = keys; k; k = k->next)
        n += k->n;
    pthread_mutex_unlock(&lock);
    return n;
}

/* When the module is unloaded (lua_close), its idle connections go with it. */
__attribute__((destructor)) static void unload(void)
{
    pool_key *k, *next;
    if (!keys)
        return;
    pthread_mutex_lock(&lock);
    for (k = keys; k; k = next) {
        next = k->next;
        close_all(k->idle, k->free_fn);
        free(k->key);
        free(k);
    }
    keys = NULL;
    pthread_mutex_unlock(&lock);
}
