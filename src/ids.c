#define _GNU_SOURCE
#include "ids.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next64(pg_idgen *g)
{
    uint64_t *s = g->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

void pg_idgen_init(pg_idgen *g)
{
    memset(g, 0, sizeof *g);
    if (getrandom(g->s, sizeof g->s, 0) != (ssize_t)sizeof g->s) {
        /* No entropy source: still unique per process and time. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        g->s[0] = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
        g->s[1] = (uint64_t)ts.tv_sec * 0x9E3779B97F4A7C15ull;
        g->s[2] = (uint64_t)(uintptr_t)g;
        g->s[3] = 0x2545F4914F6CDD1Dull;
    }
    if (!(g->s[0] | g->s[1] | g->s[2] | g->s[3]))
        g->s[0] = 1;
}

void pg_uuid7(pg_idgen *g, int64_t now_ms, char out[PG_UUID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    uint64_t r = next64(g), ms;
    int i, j;
    /* Monotonic within a connection: a clock step back or many ids in one
     * millisecond advance a 12-bit counter, then borrow the next millisecond. */
    if (now_ms > g->last_ms) {
        g->last_ms = now_ms;
        g->counter = (unsigned)(r & 0x3FF); /* random start, leaves headroom */
    } else if (++g->counter > 0xFFF) {
        g->last_ms++;
        g->counter = 0;
    }
    ms = (uint64_t)g->last_ms;
    for (i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    b[6] = (unsigned char)(0x70 | ((g->counter >> 8) & 0x0F));
    b[7] = (unsigned char)(g->counter & 0xFF);
    r = next64(g);
    for (i = 8; i < 16; i++)
        b[i] = (unsigned char)(r >> (8 * (i - 8)));
    b[8] = (unsigned char)(0x80 | (b[8] & 0x3F));
    for (i = 0, j = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[j++] = '-';
        out[j++] = hex[b[i] >> 4];
        out[j++] = hex[b[i] & 15];
    }
    out[j] = '\0';
}

int pg_uuid_normalize(const char *s, size_t len, char out[PG_UUID_LEN + 1])
{
    size_t i;
    if (len != PG_UUID_LEN)
        return 0;
    for (i = 0; i < PG_UUID_LEN; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (c >= 'A' && c <= 'F') {
            c = (char)(c - 'A' + 'a');
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return 0;
        }
        out[i] = c;
    }
    out[PG_UUID_LEN] = '\0';
    return 1;
}

int64_t pg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pg_iso8601(int64_t ms, char out[48])
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int milli = (int)(ms - (int64_t)secs * 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(out, 48, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
}
