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
    unsigned char b[16];
    uint64_t r = next64(g), ms;
    int i;
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
    pg_uuid_text(b, out);
}

/* Where each byte's two hex digits go in the 8-4-4-4-12 text. */
static const unsigned char TEXT_AT[16] = { 0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34 };

void pg_uuid_text(const unsigned char b[16], char out[PG_UUID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    int i;
    for (i = 0; i < 16; i++) {
        out[TEXT_AT[i]] = hex[b[i] >> 4];
        out[TEXT_AT[i] + 1] = hex[b[i] & 15];
    }
    out[8] = out[13] = out[18] = out[23] = '-';
    out[PG_UUID_LEN] = '\0';
}

void pg_uuid_bytes(const char *id, unsigned char b[16])
{
    /* a hex digit's value by its byte (either case); 0 for anything else */
    static const unsigned char val[256] = {
        ['0'] = 0, ['1'] = 1, ['2'] = 2, ['3'] = 3, ['4'] = 4, ['5'] = 5, ['6'] = 6, ['7'] = 7,
        ['8'] = 8, ['9'] = 9, ['a'] = 10, ['b'] = 11, ['c'] = 12, ['d'] = 13, ['e'] = 14,
        ['f'] = 15, ['A'] = 10, ['B'] = 11, ['C'] = 12, ['D'] = 13, ['E'] = 14, ['F'] = 15,
    };
    int i;
    for (i = 0; i < 16; i++)
        b[i] = (unsigned char)(val[(unsigned char)id[TEXT_AT[i]]] << 4
                               | val[(unsigned char)id[TEXT_AT[i] + 1]]);
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

int64_t pg_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm):
 * formatting by hand is several times cheaper than gmtime_r + snprintf,
 * and every item of every result carries two dates. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    yoe = z - era * 146097;
    yoe = (yoe - yoe / 1460 + yoe / 36524 - yoe / 146096) / 365;
    doy = (z - era * 146097) - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static char *digits(char *p, unsigned v, int width)
{
    int i;
    for (i = width - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + width;
}

#define MS_YEAR_1 (-62135596800000LL)      /* 0001-01-01T00:00:00.000Z */
#define MS_YEAR_10000 (253402300800000LL) /* 10000-01-01T00:00:00.000Z */

int pg_date_ok(int64_t ms)
{
    return ms >= MS_YEAR_1 && ms < MS_YEAR_10000;
}

void pg_iso8601(int64_t ms, char out[48])
{
    int64_t days, y, rest;
    unsigned m, d, secs;
    char *p = out;
    if (!pg_date_ok(ms)) { /* the day arithmetic would overflow near INT64_MIN */
        snprintf(out, 48, "(no date: %lld ms)", (long long)ms);
        return;
    }
    days = (ms >= 0 ? ms : ms - 86399999) / 86400000;
    rest = ms - days * 86400000;
    secs = (unsigned)(rest / 1000);
    civil_from_days(days, &y, &m, &d);
    p = digits(p, (unsigned)y, 4); *p++ = '-';
    p = digits(p, m, 2); *p++ = '-';
    p = digits(p, d, 2); *p++ = 'T';
    p = digits(p, secs / 3600, 2); *p++ = ':';
    p = digits(p, secs / 60 % 60, 2); *p++ = ':';
    p = digits(p, secs % 60, 2); *p++ = '.';
    p = digits(p, (unsigned)(rest % 1000), 3); *p++ = 'Z';
    *p = '\0';
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* Howard Hinnant's algorithm: days since 1970-01-01 of a proleptic Gregorian date. */
    int64_t era;
    unsigned yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int pg_parse_iso8601(const char *text, size_t len, int64_t *ms)
{
    unsigned y, mo, d, h, mi, s, f;
    char z, tail;
    char buf[48];
    if (len != 24)
        return 0;
    memcpy(buf, text, 24);
    buf[24] = '\0';
    if (sscanf(buf, "%4u-%2u-%2uT%2u:%2u:%2u.%3u%c%c", &y, &mo, &d, &h, &mi, &s, &f, &z, &tail) != 8
        || z != 'Z' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59)
        return 0;
    *ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + (int64_t)s * 1000 + f;
    if (!pg_date_ok(*ms))
        return 0;
    pg_iso8601(*ms, buf); /* round trip: rejects 2026-02-31 and the like */
    return memcmp(buf, text, 24) == 0;
}
