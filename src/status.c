#include "status.h"

#include "utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *pg_code_name(pg_code code)
{
    switch (code) {
    case PG_OK: return "OK";
    case PG_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case PG_PERMISSION_DENIED: return "PERMISSION_DENIED";
    case PG_NOT_FOUND: return "NOT_FOUND";
    case PG_RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case PG_FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case PG_ABORTED: return "ABORTED";
    case PG_UNAVAILABLE: return "UNAVAILABLE";
    case PG_INTERNAL: return "INTERNAL";
    }
    return "INTERNAL";
}

int pg_fail(pg_status *st, pg_code code, const char *fmt, ...)
{
    va_list ap;
    st->code = code;
    st->fieldlen = 0;
    va_start(ap, fmt);
    vsnprintf(st->msg, sizeof st->msg, fmt, ap);
    va_end(ap);
    return 0;
}

size_t pg_escape_char(const char *s, size_t n, char out[PG_ESCAPE_MAX], size_t *used)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char c = (unsigned char)s[0];
    size_t len = c >= 0x80 ? pg_utf8_char(s, n) : 0;
    *used = len ? len : 1;
    if (len) {
        memcpy(out, s, len);
        return len;
    }
    if (c >= 0x20 && c < 0x7F && c != '\\') {
        out[0] = (char)c;
        return 1;
    }
    out[0] = '\\';
    if (c == '\\') {
        out[1] = '\\';
        return 2;
    }
    out[1] = 'x';
    out[2] = hex[c >> 4];
    out[3] = hex[c & 15];
    return 4;
}

int pg_fail_name(pg_status *st, pg_code code, const char *name, size_t len, const char *fmt, ...)
{
    va_list ap;
    char e[PG_ESCAPE_MAX];
    size_t i = 0, n = 0, used, k;
    /* room for ": " and a few bytes of the text after the name */
    while (i < len && n + PG_ESCAPE_MAX + 34 < sizeof st->msg) {
        k = pg_escape_char(name + i, len - i, e, &used);
        memcpy(st->msg + n, e, k);
        n += k;
        i += used;
    }
    st->fieldlen = n;
    st->msg[n++] = ':';
    st->msg[n++] = ' ';
    st->code = code;
    va_start(ap, fmt);
    vsnprintf(st->msg + n, sizeof st->msg - n, fmt, ap);
    va_end(ap);
    return 0;
}

typedef struct {
    char buf[PG_PATH_TEXT];
    size_t len;
} path_text;

/* Appends s whole, or nothing when it does not fit: a cut path still points
 * the way, and never ends inside a character or an escape. */
static int append(path_text *p, const char *s, size_t n)
{
    if (n > sizeof p->buf - 1 - p->len)
        return 0;
    memcpy(p->buf + p->len, s, n);
    p->len += n;
    p->buf[p->len] = '\0';
    return 1;
}

static void append_key(path_text *p, const char *key, size_t keylen)
{
    char e[PG_ESCAPE_MAX];
    size_t i = 0, used;
    while (i < keylen && append(p, e, pg_escape_char(key + i, keylen - i, e, &used)))
        i += used;
}

static void append_index(path_text *p, size_t index1)
{
    char tmp[32], *q = tmp + sizeof tmp;
    *--q = ']';
    do {
        *--q = (char)('0' + index1 % 10);
        index1 /= 10;
    } while (index1);
    *--q = '[';
    append(p, q, (size_t)(tmp + sizeof tmp - q));
}

static void write_path(const pg_path *p, path_text *t)
{
    size_t i, n = p->depth < PG_PATH_DEPTH ? p->depth : PG_PATH_DEPTH;
    t->len = 0;
    t->buf[0] = '\0';
    append(t, p->root, strlen(p->root));
    for (i = 0; i < n; i++) {
        if (p->seg[i].key) {
            if (t->len)
                append(t, ".", 1);
            append_key(t, p->seg[i].key, p->seg[i].len);
        } else {
            append_index(t, p->seg[i].len - (size_t)p->zero_based);
        }
    }
}

int pg_fail_at(pg_status *st, pg_code code, const pg_path *p, const char *fmt, ...)
{
    va_list ap;
    path_text t;
    int n;
    write_path(p, &t);
    st->code = code;
    st->fieldlen = t.len;
    n = snprintf(st->msg, sizeof st->msg, "%s: ", t.buf);
    if (n < 0 || (size_t)n >= sizeof st->msg)
        return 0;
    va_start(ap, fmt);
    vsnprintf(st->msg + n, sizeof st->msg - (size_t)n, fmt, ap);
    va_end(ap);
    return 0;
}

void pg_path_init(pg_path *p, const char *root)
{
    p->root = root;
    p->depth = 0;
    p->zero_based = 0;
}

static size_t push(pg_path *p, const char *key, size_t len)
{
    size_t old = p->depth;
    if (p->depth < PG_PATH_DEPTH) {
        p->seg[p->depth].key = key;
        p->seg[p->depth].len = len;
    }
    p->depth++;
    return old;
}

size_t pg_path_key(pg_path *p, const char *key, size_t keylen)
{
    return push(p, key, keylen);
}

size_t pg_path_index(pg_path *p, size_t index1)
{
    return push(p, NULL, index1);
}

void pg_path_pop(pg_path *p, size_t olddepth)
{
    p->depth = olddepth;
}
