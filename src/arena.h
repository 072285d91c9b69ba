/* The arena every API call allocates from: nodes, strings and results of
 * one call, dropped together when it ends. */
#ifndef PG_ARENA_H
#define PG_ARENA_H

#include <stddef.h>

typedef struct pg_arena pg_arena;

/* Arena: bump allocator over a chain of blocks. Returns NULL when out of memory. */
pg_arena *pg_arena_new(void);
void pg_arena_free(pg_arena *a);
/* Drop everything allocated so far; keeps at most one modest block for reuse. */
void pg_arena_reset(pg_arena *a);
void *pg_arena_alloc(pg_arena *a, size_t n);
char *pg_arena_strdup(pg_arena *a, const char *s, size_t n);

#endif
