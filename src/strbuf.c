#include "strbuf.h"

#include <stdlib.h>

void pg_strbuf_init(pg_strbuf *b, char *stack, size_t cap)
{
    b->buf = stack;
    b->len = 0;
    b->cap = stack ? cap : 0;
    b->oom = 0;
    b->heap = 0;
}

void pg_strbuf_free(pg_strbuf *b)
{
    if (b->heap)
        free(b->buf);
    pg_strbuf_init(b, NULL, 0);
}

void pg_strbuf_reset(pg_strbuf *b, size_t keep)
{
    if (b->heap && b->cap > keep)
        pg_strbuf_free(b);
    b->len = 0;
    b->oom = 0;
}

void pg_strbuf_reserve(pg_strbuf *b, size_t extra)
{
    size_t need, ncap;
    char *p;
    if (b->oom)
        return;
    if (extra > (size_t)-1 / 2 - b->len) {
        b->oom = 1;
        return;
    }
    need = b->len + extra;
    if (need <= b->cap)
        return;
    ncap = b->cap ? b->cap : 256;
    while (ncap < need)
        ncap *= 2;
    p = b->heap ? realloc(b->buf, ncap) : malloc(ncap);
    if (!p) {
        b->oom = 1;
        return;
    }
    if (!b->heap && b->len)
        memcpy(p, b->buf, b->len);
    b->heap = 1;
    b->buf = p;
    b->cap = ncap;
}
