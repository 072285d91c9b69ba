/* JSON text <-> value trees: the exact encoder (shortest round-tripping
 * numbers) and the decoder of stored documents and request bodies. */
#include "json.h"

#include "strbuf.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON encoding ---------------------------------------------------- */

/* Length of the prefix of s that JSON strings carry as is: no '"', no '\\'
 * and no control character. Eight bytes at a time, since documents are
 * mostly such text. */
static size_t plain_run(const char *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w, q, b, hit;
        memcpy(&w, s + i, 8);
        q = w ^ (ones * '"');
        b = w ^ (ones * '\\');
        /* a zero byte in q or b, or a byte below 0x20 in w (ASCII bytes only: high ones are fine) */
        hit = (((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w)) & highs;
        if (hit) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            /* the lowest flagged byte is exact (borrows only flag bytes above it):
             * most strings end here, without the byte loop below */
            return i + (size_t)(__builtin_ctzll(hit) >> 3);
#else
            break;
#endif
        }
    }
    while (i < n && (unsigned char)s[i] >= 0x20 && s[i] != '"' && s[i] != '\\')
        i++;
    return i;
}

typedef pg_strbuf sbuf;
#define sb_add pg_strbuf_add
#define sb_addc pg_strbuf_addc
#define encode_string pg_json_write_string
#define encode_number pg_json_write_number

void pg_json_write_string(sbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, run = 0;
    sb_addc(b, '"');
    for (i = plain_run(s, n); i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        sb_add(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': sb_add(b, "\\\"", 2); break;
        case '\\': sb_add(b, "\\\\", 2); break;
        case '\n': sb_add(b, "\\n", 2); break;
        case '\r': sb_add(b, "\\r", 2); break;
        case '\t': sb_add(b, "\\t", 2); break;
        default: {
            char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            sb_add(b, esc, 6);
        }
        }
    }
    sb_add(b, s + run, n - run);
    sb_addc(b, '"');
}

/* Numbers with at most 9 decimals (0.25, 28.6, 0.4745098) without printf:
 * m = n * 10^k integral and m / 10^k == n means the text "m with k decimals"
 * reads back as exactly n (both sides are correctly rounded). */
static int short_decimal(sbuf *b, double n)
{
    static const double pow10[] = { 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9 };
    char tmp[40], *p = tmp + sizeof tmp;
    int k;
    for (k = 0; k < 9; k++) {
        double m = n * pow10[k];
        if (m == floor(m) && fabs(m) < 9007199254740992.0 && m / pow10[k] == n) {
            uint64_t u = (uint64_t)fabs(m);
            int d;
            for (d = 0; d <= k + 1 || u; d++) {
                if (d == k + 1)
                    *--p = '.';
                *--p = (char)('0' + u % 10);
                u /= 10;
            }
            if (n < 0)
                *--p = '-';
            sb_add(b, p, (size_t)(tmp + sizeof tmp - p));
            return 1;
        }
    }
    return 0;
}

void pg_json_write_number(sbuf *b, double n)
{
    char tmp[40], *p = tmp + sizeof tmp;
    int len;
    if (!isfinite(n)) {
        sb_add(b, "null", 4);
    } else if (pg_number_is_int(n)) {
        /* integers within 2^53: digits by hand, no printf */
        int64_t v = (int64_t)n;
        uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        do {
            *--p = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (v < 0)
            *--p = '-';
        sb_add(b, p, (size_t)(tmp + sizeof tmp - p));
    } else if (!short_decimal(b, n)) {
        /* the shortest of %.15g and %.17g that reads back exactly: 0.4, not 0.40000000000000002 */
        len = snprintf(tmp, sizeof tmp, "%.15g", n);
        if (strtod(tmp, NULL) != n)
            len = snprintf(tmp, sizeof tmp, "%.17g", n);
        sb_add(b, tmp, (size_t)len);
    }
}

static void encode(sbuf *b, const pg_value *v)
{
    size_t i;
    switch (v->type) {
    case PG_NULL:
    case PG_INVALID: sb_add(b, "null", 4); break;
    case PG_BOOL: v->u.b ? sb_add(b, "true", 4) : sb_add(b, "false", 5); break;
    case PG_NUMBER: encode_number(b, v->u.n); break;
    case PG_STRING: encode_string(b, v->u.str.s, v->u.str.len); break;
    case PG_ARRAY:
        sb_addc(b, '[');
        for (i = 0; i < v->u.arr.n; i++) {
            if (i)
                sb_addc(b, ',');
            encode(b, v->u.arr.v[i]);
        }
        sb_addc(b, ']');
        break;
    case PG_RAW: sb_add(b, v->u.str.s, v->u.str.len); break;
    case PG_OBJECT: {
        int first = 1;
        sb_addc(b, '{');
        for (i = 0; i < v->u.obj.n; i++) {
            const pg_member *m = &v->u.obj.m[i];
            if (!m->key) { /* spliced members: the inside of a stored object's text */
                const char *s = m->val->u.str.s;
                size_t n = m->val->u.str.len;
                if (n <= 2)
                    continue;
                if (!first)
                    sb_addc(b, ',');
                sb_add(b, s + 1, n - 2);
                first = 0;
                continue;
            }
            if (!first)
                sb_addc(b, ',');
            first = 0;
            encode_string(b, m->key, m->keylen);
            sb_addc(b, ':');
            encode(b, m->val);
        }
        sb_addc(b, '}');
        break;
    }
    }
}

int pg_json_write(pg_strbuf *b, const pg_value *v)
{
    encode(b, v);
    return !b->oom;
}

char *pg_json_encode(pg_arena *a, const pg_value *v, size_t *len)
{
    char stack[2048];
    sbuf b;
    char *out = NULL;
    pg_strbuf_init(&b, stack, sizeof stack);
    encode(&b, v);
    if (!b.oom) {
        out = pg_arena_strdup(a, b.buf, b.len);
        if (out && len)
            *len = b.len;
    }
    pg_strbuf_free(&b);
    return out;
}

/* ---- JSON decoding ---------------------------------------------------- */

#define MAX_DEPTH 64

typedef struct {
    const char *p, *end;
    pg_arena *a;
    const char *err;
    int unique;              /* refuse an object that names a key twice */
    const pg_member *dup;    /* the second of the two, when so refused */
} parser;

static pg_value *parse_value(parser *ps, int depth);

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static pg_value *fail(parser *ps, const char *msg)
{
    if (!ps->err)
        ps->err = msg;
    return NULL;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Parses a string token; *out points into the arena (or into the input when
 * there are no escapes, which is the common case for stored documents). */
static int parse_string_raw(parser *ps, const char **out, size_t *outlen)
{
    const char *start = ++ps->p, *q = start + plain_run(start, (size_t)(ps->end - start));
    char *buf, *o;
    if (q < ps->end && (unsigned char)*q < 0x20)
        return fail(ps, "control character in string"), 0;
    if (q < ps->end && *q == '"') {
        *out = start;
        *outlen = (size_t)(q - start);
        ps->p = q + 1;
        return 1;
    }
    /* Escapes: decoded text is never longer than the source text up to the
     * closing quote, so find that first and reserve just that much. */
    for (q = start; q < ps->end && *q != '"'; q++)
        if (*q == '\\' && q + 1 < ps->end)
            q++;
    buf = pg_arena_alloc(ps->a, (size_t)(q - start) + 1);
    if (!buf)
        return fail(ps, "out of memory"), 0;
    o = buf;
    q = start;
    while (q < ps->end && *q != '"') {
        unsigned char c = (unsigned char)*q;
        if (c < 0x20)
            return fail(ps, "control character in string"), 0;
        if (c != '\\') {
            *o++ = (char)c;
            q++;
            continue;
        }
        if (++q >= ps->end)
            break;
        switch (*q) {
        case '"': *o++ = '"'; q++; break;
        case '\\': *o++ = '\\'; q++; break;
        case '/': *o++ = '/'; q++; break;
        case 'b': *o++ = '\b'; q++; break;
        case 'f': *o++ = '\f'; q++; break;
        case 'n': *o++ = '\n'; q++; break;
        case 'r': *o++ = '\r'; q++; break;
        case 't': *o++ = '\t'; q++; break;
        case 'u': {
            unsigned cp, lo;
            if (ps->end - q < 5 || !hex4(q + 1, &cp))
                return fail(ps, "bad \\u escape"), 0;
            q += 5;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (ps->end - q < 6 || q[0] != '\\' || q[1] != 'u' || !hex4(q + 2, &lo)
                    || lo < 0xDC00 || lo > 0xDFFF)
                    return fail(ps, "bad surrogate pair"), 0;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                q += 6;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return fail(ps, "bad surrogate pair"), 0;
            }
            o += put_utf8(o, cp);
            break;
        }
        default:
            return fail(ps, "bad escape"), 0;
        }
    }
    if (q >= ps->end)
        return fail(ps, "unterminated string"), 0;
    *o = '\0';
    *out = buf;
    *outlen = (size_t)(o - buf);
    ps->p = q + 1;
    return 1;
}

static pg_value *parse_number(parser *ps)
{
    const char *s = ps->p, *e = ps->end;
    char tmp[64], *text = tmp, *endp;
    size_t n;
    double d;
#define DIGIT(q) ((q) < e && *(q) >= '0' && *(q) <= '9')
    /* RFC 8259's grammar, exactly: -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?
     * (strtod alone would take 01, 1. and .5 too) */
    if (ps->p < e && *ps->p == '-')
        ps->p++;
    if (!DIGIT(ps->p))
        return fail(ps, "bad number");
    if (*ps->p++ != '0')
        while (DIGIT(ps->p))
            ps->p++;
    if (ps->p < e && *ps->p == '.') {
        if (!DIGIT(ps->p + 1))
            return fail(ps, "bad number");
        for (ps->p++; DIGIT(ps->p); ps->p++) {}
    }
    if (ps->p < e && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        if (ps->p < e && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (!DIGIT(ps->p))
            return fail(ps, "bad number");
        while (DIGIT(ps->p))
            ps->p++;
    }
    if (DIGIT(ps->p)) /* 01, -00: a leading zero with more digits after it */
        return fail(ps, "bad number");
#undef DIGIT
    n = (size_t)(ps->p - s);
    if (n <= 17) {
        /* Plain integers and short decimals (most stored numbers) without strtod:
         * up to 15 digits make an exact integer, 10^k (k <= 15) is exact, and one
         * IEEE division of exact values is correctly rounded, as strtod is. */
        static const double pow10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
                                        1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15 };
        size_t i = s[0] == '-', first = i, frac = 0, digits;
        int64_t v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            v = v * 10 + (s[i++] - '0');
        digits = i - first;
        if (i < n && s[i] == '.' && digits > 0) {
            size_t f = ++i;
            while (i < n && s[i] >= '0' && s[i] <= '9')
                v = v * 10 + (s[i++] - '0');
            frac = i - f; /* >= 1: the grammar above refused "1." */
            digits += frac;
        }
        if (i == n && digits > 0 && digits <= 15) {
            d = (double)v / pow10[frac];
            return pg_new_number(ps->a, s[0] == '-' ? -d : d);
        }
    }
    /* a long one (many digits are valid JSON) is copied into the arena */
    if (n >= sizeof tmp && !(text = pg_arena_alloc(ps->a, n + 1)))
        return fail(ps, "out of memory");
    memcpy(text, s, n);
    text[n] = '\0';
    d = strtod(text, &endp);
    if (endp != text + n || !isfinite(d))
        return fail(ps, "bad number");
    return pg_new_number(ps->a, d);
}

static int literal(parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return 0;
    ps->p += n;
    return 1;
}

#define DUP_PAIRWISE 16 /* up to this many members, compared pair by pair */

static int same_key(const pg_member *x, const pg_member *y)
{
    return x->keylen == y->keylen && memcmp(x->key, y->key, x->keylen) == 0;
}

/* The second member of obj whose key an earlier one has, or NULL. Linear in the keys'
 * bytes: a small object pair by pair, a larger one through a table of twice its size
 * (arena memory, as much again as its members took). NULL also when that table cannot be
 * had: *oom then says so. */
static const pg_member *duplicate_key(pg_arena *a, const pg_value *obj, int *oom)
{
    size_t n = obj->u.obj.n, i, j, cap = 1;
    const pg_member *m = obj->u.obj.m;
    const pg_member **slot;
    *oom = 0;
    if (n <= DUP_PAIRWISE) {
        for (i = 1; i < n; i++)
            for (j = 0; j < i; j++)
                if (same_key(&m[i], &m[j]))
                    return &m[i];
        return NULL;
    }
    while (cap < 2 * n)
        cap <<= 1;
    if (!(slot = pg_arena_alloc(a, cap * sizeof *slot)))
        return *oom = 1, NULL;
    memset(slot, 0, cap * sizeof *slot);
    for (i = 0; i < n; i++) {
        uint32_t h = 2166136261u;
        for (j = 0; j < m[i].keylen; j++)
            h = (h ^ (unsigned char)m[i].key[j]) * 16777619u;
        for (j = h & (cap - 1); slot[j]; j = (j + 1) & (cap - 1))
            if (same_key(slot[j], &m[i]))
                return &m[i];
        slot[j] = &m[i];
    }
    return NULL;
}

static pg_value *parse_container(parser *ps, int depth, int is_obj)
{
    pg_value *v = is_obj ? pg_new_object(ps->a, 0) : pg_new_array(ps->a, 0);
    char close = is_obj ? '}' : ']';
    if (!v)
        return fail(ps, "out of memory");
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return v;
    }
    for (;;) {
        pg_value *item;
        const char *key = NULL;
        size_t keylen = 0;
        skip_ws(ps);
        if (is_obj) {
            if (ps->p >= ps->end || *ps->p != '"')
                return fail(ps, "expected key");
            if (!parse_string_raw(ps, &key, &keylen))
                return NULL;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return fail(ps, "expected ':'");
            ps->p++;
        }
        item = parse_value(ps, depth + 1);
        if (!item)
            return NULL;
        if (!(is_obj ? pg_obj_addl(ps->a, v, key, keylen, item) : pg_arr_push(ps->a, v, item)))
            return fail(ps, "out of memory");
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            if (is_obj && ps->unique) {
                int oom;
                if ((ps->dup = duplicate_key(ps->a, v, &oom)))
                    return fail(ps, "duplicate key");
                if (oom)
                    return fail(ps, "out of memory");
            }
            return v;
        }
        return fail(ps, "expected ',' or close");
    }
}

static pg_value *parse_value(parser *ps, int depth)
{
    if (depth > MAX_DEPTH)
        return fail(ps, "nesting too deep");
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, "unexpected end");
    switch (*ps->p) {
    case '{': return parse_container(ps, depth, 1);
    case '[': return parse_container(ps, depth, 0);
    case '"': {
        const char *s;
        size_t n;
        return parse_string_raw(ps, &s, &n) ? pg_new_string_ref(ps->a, s, n) : NULL;
    }
    case 't': return literal(ps, "true") ? pg_new_bool(ps->a, 1) : fail(ps, "bad literal");
    case 'f': return literal(ps, "false") ? pg_new_bool(ps->a, 0) : fail(ps, "bad literal");
    case 'n': return literal(ps, "null") ? pg_new_null(ps->a) : fail(ps, "bad literal");
    default: return parse_number(ps);
    }
}

static pg_value *decode(pg_arena *a, const char *s, size_t len, int unique, const char **err,
                        const pg_member **dup)
{
    parser ps;
    pg_value *v;
    ps.p = s;
    ps.end = s + len;
    ps.a = a;
    ps.err = NULL;
    ps.unique = unique;
    ps.dup = NULL;
    v = parse_value(&ps, 0);
    if (v) {
        skip_ws(&ps);
        if (ps.p != ps.end)
            v = fail(&ps, "trailing characters");
    }
    if (!v && err)
        *err = ps.err ? ps.err : "out of memory";
    if (dup)
        *dup = v ? NULL : ps.dup;
    return v;
}

pg_value *pg_json_decode(pg_arena *a, const char *s, size_t len, const char **err)
{
    return decode(a, s, len, 0, err, NULL);
}

pg_value *pg_json_decode_input(pg_arena *a, const char *s, size_t len, const char **err,
                               const pg_member **dup)
{
    return decode(a, s, len, 1, err, dup);
}
