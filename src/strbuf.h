/* A growable byte buffer the encoders write into. A handle keeps one across
 * calls (its memory is reused), so a REST response is written once, here, and
 * copied once, into the Lua string. */
#ifndef PG_STRBUF_H
#define PG_STRBUF_H

#include <stddef.h>
#include <string.h>

typedef struct {
    char *buf;
    size_t len, cap;
    int oom;  /* an allocation failed: the text is incomplete */
    int heap; /* buf is malloc'ed (it may start as the caller's stack array) */
} pg_strbuf;

/* Starts empty, over the caller's array (which may be NULL, 0). */
void pg_strbuf_init(pg_strbuf *b, char *stack, size_t cap);
void pg_strbuf_free(pg_strbuf *b);
/* Empties it; keeps the memory unless it grew past keep bytes. */
void pg_strbuf_reset(pg_strbuf *b, size_t keep);
void pg_strbuf_reserve(pg_strbuf *b, size_t extra);

/* Inline: the encoder adds a few bytes at a time, dozens of times per item. */
static inline void pg_strbuf_add(pg_strbuf *b, const char *s, size_t n)
{
    if (b->cap - b->len < n) {
        pg_strbuf_reserve(b, n);
        if (b->oom)
            return;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
}

static inline void pg_strbuf_addc(pg_strbuf *b, char c)
{
    if (b->len < b->cap)
        b->buf[b->len++] = c;
    else
        pg_strbuf_add(b, &c, 1);
}

#endif
