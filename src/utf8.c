/* UTF-8 checks: what the core takes as text. */
#include "utf8.h"

#include <stdint.h>
#include <string.h>

/* Valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF) and no NUL byte. */
size_t pg_utf8_char(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned c, cp, min;
    size_t len, i;
    if (n == 0 || (c = p[0]) == 0)
        return 0;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

const char *pg_utf8_problem(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        size_t len;
        /* ASCII runs eight bytes at a time: no high bit and no zero byte */
        while (end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            if ((w & 0x8080808080808080ull) || ((w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull))
                break;
            p += 8;
        }
        if (p >= end)
            break;
        if (!(len = pg_utf8_char((const char *)p, (size_t)(end - p))))
            return *p == 0 ? "must not contain a NUL byte" : "must be valid UTF-8";
        p += len;
    }
    return NULL;
}
