/* The arena: a bump allocator over a chain of blocks, reset after each call. */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct block {
    struct block *next;
    size_t size, used;
    /* payload follows, max-aligned */
} block;

struct pg_arena {
    block *head;
};

#define ALIGN 16
#define HEADER ((sizeof(block) + ALIGN - 1) & ~(size_t)(ALIGN - 1))
#define FIRST_BLOCK 16384
#define KEEP_BLOCK (256 * 1024)

pg_arena *pg_arena_new(void)
{
    return calloc(1, sizeof(pg_arena));
}

static void free_chain(block *b)
{
    while (b) {
        block *next = b->next;
        free(b);
        b = next;
    }
}

void pg_arena_free(pg_arena *a)
{
    if (!a)
        return;
    free_chain(a->head);
    free(a);
}

void pg_arena_reset(pg_arena *a)
{
    block *keep = NULL, *b = a->head;
    /* Keep one reasonably sized block so steady-state calls do not malloc,
     * but give large ones back so memory does not stay at a call's peak. */
    while (b) {
        block *next = b->next;
        if (!keep && b->size <= KEEP_BLOCK) {
            keep = b;
            keep->next = NULL;
            keep->used = 0;
        } else {
            free(b);
        }
        b = next;
    }
    a->head = keep;
}

/* n bytes aligned to `align` (a power of two, at most ALIGN). */
static void *arena_get(pg_arena *a, size_t n, size_t align)
{
    block *b = a->head;
    size_t at = b ? (b->used + align - 1) & ~(align - 1) : 0;
    if (n == 0)
        n = 1;
    if (!b || at > b->size || b->size - at < n) {
        size_t size = b ? b->size * 2 : FIRST_BLOCK;
        block *nb;
        if (size < n)
            size = n;
        if (size > SIZE_MAX - HEADER)
            return NULL;
        nb = malloc(HEADER + size);
        if (!nb)
            return NULL;
        nb->size = size;
        nb->used = 0;
        if (b && b->size - b->used >= 4096 && n > b->size / 2) {
            /* A big one-off allocation: put it behind the current block so
             * the current block keeps serving small requests. */
            nb->next = b->next;
            b->next = nb;
            nb->used = n;
            return (char *)nb + HEADER;
        }
        nb->next = b;
        a->head = b = nb;
        at = 0;
    }
    b->used = at + n;
    return (char *)b + HEADER + at;
}

void *pg_arena_alloc(pg_arena *a, size_t n)
{
    return arena_get(a, n, ALIGN);
}

char *pg_arena_strdup(pg_arena *a, const char *s, size_t n)
{
    char *p = n < SIZE_MAX ? arena_get(a, n + 1, 1) : NULL; /* text needs no alignment */
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
