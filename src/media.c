#include "media.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "strbuf.h"
#include "utf8.h"

#define MAX_SHORT 1024
#define MAX_LIST 100      /* VideoV2.resolutions and posters */
#define MAX_DIMENSION 999999999.0 /* what the strings' nine digits hold */

static const char IMAGE_PREFIX[] = "wix:image://v1/", VIDEO_PREFIX[] = "wix:video://v1/";
#define PREFIX_LEN 15

/* ---- the strings ------------------------------------------------------------ */

/* The value of `key` in a "k=v&k=v" fragment; NULL when absent. */
static const char *fragment_param(const char *frag, const char *end, const char *key, size_t *len)
{
    size_t klen = strlen(key);
    const char *p = frag;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > klen && memcmp(p, key, klen) == 0 && p[klen] == '=') {
            *len = (size_t)(stop - p) - klen - 1;
            return p + klen + 1;
        }
        p = stop + 1;
    }
    return NULL;
}

static int all_digits(const char *s, size_t n)
{
    size_t i;
    if (n == 0 || n > 9)
        return 0;
    for (i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into out (room for n bytes); -1 when it does not
 * decode to UTF-8 without NUL, the rule for every string: the decoded text is
 * the object's filename or poster id. form 0 is decodeURIComponent (a
 * malformed escape is refused, as JS throws); form 1 is URLSearchParams ("+"
 * is a space, a malformed escape stays as it is). */
static long decode(const char *s, size_t n, int form, char *out)
{
    size_t i, len = 0;
    for (i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi = i + 2 < n ? hex_digit(s[i + 1]) : -1;
            int lo = i + 2 < n ? hex_digit(s[i + 2]) : -1;
            if (hi >= 0 && lo >= 0) {
                out[len++] = (char)(hi * 16 + lo);
                i += 2;
                continue;
            }
            if (!form)
                return -1;
        }
        out[len++] = form && s[i] == '+' ? ' ' : s[i];
    }
    return pg_utf8_problem(out, len) ? -1 : (long)len;
}

/* The parts of wix:<kind>://v1/<id>[/<filename>][?<query>][#<fragment>]
 * (after the prefix). A "?" ends the path, as for the SDK's URL parser; the
 * query plays no part. */
typedef struct {
    const char *id, *file, *frag, *end;
    size_t idlen, filelen;
} wix_parts;

static int split(const char *s, size_t n, wix_parts *p)
{
    const char *end = s + n, *hash = memchr(s, '#', n), *path_end = hash ? hash : end;
    const char *query = memchr(s, '?', (size_t)(path_end - s)), *slash;
    if (query)
        path_end = query;
    slash = memchr(s, '/', (size_t)(path_end - s));
    if (path_end == s || slash == s)
        return 0; /* empty id */
    if (slash && (slash + 1 == path_end
                  || memchr(slash + 1, '/', (size_t)(path_end - slash - 1))))
        return 0; /* an empty filename, or extra path segments */
    p->id = s;
    p->idlen = (size_t)((slash ? slash : path_end) - s);
    p->file = slash ? slash + 1 : NULL;
    p->filelen = slash ? (size_t)(path_end - slash - 1) : 0;
    p->frag = hash ? hash + 1 : NULL;
    p->end = end;
    return 1;
}

static int put(pg_arena *a, pg_value *o, const char *key, pg_value *v)
{
    return v && pg_obj_add(a, o, key, v);
}

static pg_value *text(pg_arena *a, const char *s, size_t n)
{
    return pg_new_string(a, s, n);
}

static pg_value *number_of(pg_arena *a, const char *digits, size_t n)
{
    double v = 0;
    size_t i;
    for (i = 0; i < n; i++)
        v = v * 10 + (digits[i] - '0');
    return pg_new_number(a, v);
}

#define OOM(why) (*(why) = NULL, (pg_value *)NULL)
#define BAD(why, msg) (*(why) = (msg), (pg_value *)NULL)
/* the two bounds a string can pass (RESOURCE_EXHAUSTED, pg_media_refuse): its own, and the
 * REST object's on each part */
static const char TOO_LONG[] = "longer than 4096 bytes (with \"wix:\" for a legacy string)";
static const char PART_TOO_LONG[] =
    "its id, filename, poster id or watermark is longer than 1024 bytes (once decoded)";

static const char BAD_IMAGE[] =
    "must be a wix:image://v1/<id>/<filename>#originWidth=<w>&originHeight=<h> URI or an http(s):// URL";
static const char BAD_VIDEO[] =
    "must be a wix:video://v1/<id>/<filename>#posterUri=.. URI or an http(s):// URL";

static int is_http(const char *s, size_t n)
{
    return (n > 8 && memcmp(s, "https://", 8) == 0) || (n > 7 && memcmp(s, "http://", 7) == 0);
}

/* A URL-ish string carries no space, control character or DEL. */
static int no_blanks(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7F)
            return 0;
    return 1;
}

/* A media id goes into the string's path (and a poster's into its fragment) as it is,
 * so it holds no space, control character or any of forbidden (the characters that end
 * those parts). */
#define POSTER_FORBIDDEN "&#%+"
static int id_chars_ok(const char *s, size_t n, const char *forbidden)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= 0x20 || ch == 0x7F || strchr(forbidden, ch))
            return 0;
    }
    return 1;
}

/* ---- the checks of a REST object's fields ---------------------------------------- */

typedef struct {
    pg_arena *a;
    pg_path *path;
    pg_status *st;
} ctx;

static int bad(ctx *c, const char *msg)
{
    return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "%s", msg);
}

static int oom(ctx *c) { return pg_fail(c->st, PG_INTERNAL, "out of memory"); }

static int key_is(const pg_member *m, const char *k)
{
    return m->keylen == strlen(k) && memcmp(m->key, k, m->keylen) == 0;
}

static int check_text(ctx *c, const pg_value *v, size_t minlen, size_t maxlen)
{
    const char *why;
    if (v->type != PG_STRING)
        return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "expected a string, got %s",
                          pg_type_name(v));
    if ((why = pg_utf8_problem(v->u.str.s, v->u.str.len)))
        return bad(c, why);
    if (v->u.str.len > maxlen)
        return pg_fail_at(c->st, PG_RESOURCE_EXHAUSTED, c->path, "longer than %zu bytes", maxlen);
    if (v->u.str.len < minlen)
        return bad(c, "must not be empty");
    return 1;
}

static int check_dimension(ctx *c, const pg_value *v)
{
    if (v->type != PG_NUMBER)
        return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "expected a number, got %s",
                          pg_type_name(v));
    if (!isfinite(v->u.n) || v->u.n != floor(v->u.n) || v->u.n < 0 || v->u.n > MAX_DIMENSION)
        return bad(c, "must be an integer between 0 and 999999999");
    return 1;
}

static int check_id(ctx *c, const pg_value *v, const char *forbidden)
{
    if (!check_text(c, v, 1, MAX_SHORT))
        return 0;
    if (!id_chars_ok(v->u.str.s, v->u.str.len, forbidden))
        return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path,
                          "must not contain spaces, control characters or any of %s", forbidden);
    return 1;
}

typedef enum { K_TEXT, K_URL, K_DIM, K_ID, K_POSTER_ID, K_TOKEN, K_RESOLUTIONS, K_POSTERS } kind;

/* A leaf field's check, by its kind: what a REST object's field must hold (object_of),
 * and so what each part of a caller's string must hold (part_refused). */
static int check_leaf(ctx *c, kind k, const pg_value *v)
{
    switch (k) {
    case K_TEXT: return check_text(c, v, 0, MAX_SHORT);
    case K_URL: return check_text(c, v, 1, PG_MAX_MEDIA_URL);
    case K_DIM: return check_dimension(c, v);
    case K_ID: return check_id(c, v, "/?#");
    case K_POSTER_ID: return check_id(c, v, POSTER_FORBIDDEN);
    case K_TOKEN: return check_id(c, v, "&");
    default: return pg_fail(c->st, PG_INTERNAL, "not a leaf field");
    }
}

/* In a strict parse each part of the string passes the check of the field it becomes, so
 * that the object a caller's string gives is one a REST caller could send. NULL, or the
 * parse's refusal: PART_TOO_LONG for a length (RESOURCE_EXHAUSTED), else bad_msg. */
static const char *part_refused(kind k, const char *s, size_t n, const char *bad_msg)
{
    pg_status st;
    pg_path path;
    pg_value v;
    ctx c;
    pg_path_init(&path, "");
    c.a = NULL;
    c.path = &path;
    c.st = &st;
    v.type = PG_STRING;
    v.u.str.s = s;
    v.u.str.len = n;
    v.u.str.ref = 0;
    if (check_leaf(&c, k, &v))
        return NULL;
    return st.code == PG_RESOURCE_EXHAUSTED ? PART_TOO_LONG : bad_msg;
}

/* ---- strings to objects --------------------------------------------------------- */

/* strict: a caller's string, each part of which must pass its REST field's check
 * (part_refused); not strict: a document stored before those rules, upgraded as it was
 * (nothing of it lost). */
static pg_value *parse(pg_arena *a, pg_media_kind k, const char *s, size_t n, const char **why,
                       int strict)
{
    const char *bad = k == PG_IMAGE ? BAD_IMAGE : BAD_VIDEO;
    const char *prefix = k == PG_IMAGE ? IMAGE_PREFIX : VIDEO_PREFIX;
    char *full = NULL, buf[PG_MAX_MEDIA_URL];
    wix_parts p;
    pg_value *o;
    size_t len;
    long dl = 0;
    const char *refused;
    /* in check_text's order (a caller's string meets that first): UTF-8, length, the rest */
    if (n == 0 || pg_utf8_problem(s, n))
        return BAD(why, bad);
    if (n > PG_MAX_MEDIA_URL)
        return BAD(why, TOO_LONG);
    if (!no_blanks(s, n))
        return BAD(why, bad);
    /* legacy "image://..." / "video://...": Wix's SDK puts "wix:" in front */
    if (n >= PREFIX_LEN - 4 && memcmp(s, prefix + 4, PREFIX_LEN - 4) == 0) {
        if (n + 4 > PG_MAX_MEDIA_URL)
            return BAD(why, TOO_LONG);
        if (!(full = pg_arena_alloc(a, n + 4)))
            return OOM(why);
        memcpy(full, "wix:", 4);
        memcpy(full + 4, s, n);
        s = full;
        n += 4;
    }
    if (!(n > PREFIX_LEN && memcmp(s, prefix, PREFIX_LEN) == 0)) {
        if (!is_http(s, n))
            return BAD(why, bad);
        o = pg_new_object(a, 1);
        return o && put(a, o, "url", text(a, s, n)) ? o : OOM(why);
    }
    if (!split(s + PREFIX_LEN, n - PREFIX_LEN, &p))
        return BAD(why, bad);
    if (strict && (refused = part_refused(K_ID, p.id, p.idlen, bad)))
        return BAD(why, refused);
    if (!(o = pg_new_object(a, 7)) || !put(a, o, "id", text(a, p.id, p.idlen))
        || (k == PG_IMAGE && p.file && !put(a, o, "url", text(a, s, n))))
        return OOM(why); /* url: the SDK sets it on an image with a filename part */
    if (k == PG_IMAGE) {
        const char *w, *h, *mark;
        size_t wl, hl, ml;
        if (!p.frag || !(w = fragment_param(p.frag, p.end, "originWidth", &wl)) || !all_digits(w, wl)
            || !(h = fragment_param(p.frag, p.end, "originHeight", &hl)) || !all_digits(h, hl))
            return BAD(why, bad);
        if (!put(a, o, "height", number_of(a, h, hl)) || !put(a, o, "width", number_of(a, w, wl)))
            return OOM(why);
        if (p.file) {
            pg_value *name;
            if ((dl = decode(p.file, p.filelen, 0, buf)) < 0)
                return BAD(why, bad);
            if (strict && (refused = part_refused(K_TEXT, buf, (size_t)dl, bad)))
                return BAD(why, refused);
            if (!(name = text(a, buf, (size_t)dl)) || !put(a, o, "altText", name)
                || !put(a, o, "filename", name))
                return OOM(why);
        }
        mark = fragment_param(p.frag, p.end, "watermark", &ml);
        if (strict && mark && ml && (refused = part_refused(K_TOKEN, mark, ml, bad)))
            return BAD(why, refused);
        if (mark && ml && !put(a, o, "watermark", text(a, mark, ml)))
            return OOM(why);
        return o;
    }
    if (p.file) {
        if ((dl = decode(p.file, p.filelen, 0, buf)) < 0)
            return BAD(why, bad);
        if (strict && (refused = part_refused(K_TEXT, buf, (size_t)dl, bad)))
            return BAD(why, refused);
        if (!put(a, o, "filename", text(a, buf, (size_t)dl)))
            return OOM(why);
    }
    if (p.frag) {
        const char *uri = fragment_param(p.frag, p.end, "posterUri", &len), *w, *h;
        size_t wl = 0, hl = 0;
        w = fragment_param(p.frag, p.end, "posterWidth", &wl);
        h = fragment_param(p.frag, p.end, "posterHeight", &hl);
        if ((w && !all_digits(w, wl)) || (h && !all_digits(h, hl)))
            return BAD(why, bad);
        if (uri && (dl = decode(uri, len, 1, buf)) < 0)
            return BAD(why, bad);
        if (strict && uri && dl > 0
            && (refused = part_refused(K_POSTER_ID, buf, (size_t)dl, bad)))
            return BAD(why, refused);
        /* "posterUri=" with nothing after it is no poster, as for the SDK (an empty value
         * is false in its `if`) and progallery.uri: a poster's id is never empty */
        if (uri && dl > 0) {
            pg_value *poster, *posters;
            if (!(poster = pg_new_object(a, 3)) || !(posters = pg_new_array(a, 1))
                || !put(a, poster, "id", text(a, buf, (size_t)dl))
                || (h && !put(a, poster, "height", number_of(a, h, hl)))
                || (w && !put(a, poster, "width", number_of(a, w, wl)))
                || !pg_arr_push(a, posters, poster) || !put(a, o, "posters", posters))
                return OOM(why);
        }
    }
    return o;
}

pg_value *pg_media_parse(pg_arena *a, pg_media_kind k, const char *s, size_t n, const char **why)
{
    return parse(a, k, s, n, why, 1);
}

int pg_media_refuse(pg_status *st, const pg_path *path, const char *why)
{
    if (!why)
        return pg_fail(st, PG_INTERNAL, "out of memory");
    return pg_fail_at(st, why == TOO_LONG || why == PART_TOO_LONG ? PG_RESOURCE_EXHAUSTED : PG_INVALID_ARGUMENT,
                      path, "%s", why);
}

/* ---- strings from objects ---------------------------------------------------- */

static const pg_value *member_str(const pg_value *o, const char *key)
{
    const pg_value *v = pg_obj_get(o, key);
    return v && v->type == PG_STRING ? v : NULL;
}

static void add_str(pg_strbuf *b, const pg_value *v)
{
    pg_strbuf_add(b, v->u.str.s, v->u.str.len);
}

/* encodeURIComponent */
static void add_encoded(pg_strbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
            || strchr("-_.!~*'()", c) != NULL) {
            if (c)
                pg_strbuf_addc(b, (char)c);
        } else {
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };
            pg_strbuf_add(b, e, 3);
        }
    }
}

static void add_number(pg_strbuf *b, const pg_value *v)
{
    char tmp[32];
    int len;
    if (!v || v->type != PG_NUMBER)
        return;
    if (pg_number_is_int(v->u.n) && !(v->u.n == 0 && signbit(v->u.n))) {
        /* a size, nearly always: the encoder's digits are printf's "%.0f" for these, and
         * cheaper (printf was a tenth of a 100-item move's result) */
        pg_json_write_number(b, v->u.n);
        return;
    }
    len = snprintf(tmp, sizeof tmp, "%.0f", v->u.n);
    if (len > 0)
        pg_strbuf_add(b, tmp, (size_t)len);
}

/* The poster id of a VideoV2 poster: its id, or the last path segment of its url. */
static void add_poster_id(pg_strbuf *b, const pg_value *poster)
{
    const pg_value *id = member_str(poster, "id"), *url = member_str(poster, "url");
    if (id) {
        add_str(b, id);
    } else if (url) {
        const char *s = url->u.str.s, *end = s + url->u.str.len, *p = end;
        while (p > s && p[-1] != '/')
            p--;
        pg_strbuf_add(b, p, (size_t)(end - p));
    }
}

/* The SDK's transformRESTImageToSDKImage / transformRESTVideoV2ToSDKVideoV2,
 * plus a stored watermark. Returns 0 when the object has no id (the string is
 * then its url). */
static int derive(pg_strbuf *b, pg_media_kind k, const pg_value *o)
{
    const pg_value *id = member_str(o, "id");
    if (!id)
        return 0;
    pg_strbuf_add(b, k == PG_IMAGE ? IMAGE_PREFIX : VIDEO_PREFIX, PREFIX_LEN);
    add_str(b, id);
    if (k == PG_IMAGE) {
        const pg_value *name = member_str(o, "filename"), *mark = member_str(o, "watermark");
        if (!name || name->u.str.len == 0)
            name = member_str(o, "altText"); /* filename || altText */
        if (name && name->u.str.len) {
            pg_strbuf_addc(b, '/');
            add_encoded(b, name->u.str.s, name->u.str.len);
        }
        pg_strbuf_add(b, "#originWidth=", 13);
        add_number(b, pg_obj_get(o, "width"));
        pg_strbuf_add(b, "&originHeight=", 14);
        add_number(b, pg_obj_get(o, "height"));
        if (mark) {
            pg_strbuf_add(b, "&watermark=", 11);
            add_str(b, mark);
        }
    } else {
        const pg_value *name = member_str(o, "filename"), *posters = pg_obj_get(o, "posters");
        const pg_value *poster = NULL;
        if (name && name->u.str.len) {
            pg_strbuf_addc(b, '/');
            add_encoded(b, name->u.str.s, name->u.str.len);
        }
        if (posters && posters->type == PG_ARRAY && posters->u.arr.n)
            poster = posters->u.arr.v[posters->u.arr.n > 1 ? 1 : 0]; /* posters[1] || posters[0] */
        if (poster && poster->type == PG_OBJECT) {
            pg_strbuf_add(b, "#posterUri=", 11);
            add_poster_id(b, poster);
            if (pg_obj_get(poster, "width")) {
                pg_strbuf_add(b, "&posterWidth=", 13);
                add_number(b, pg_obj_get(poster, "width"));
            }
            if (pg_obj_get(poster, "height")) {
                pg_strbuf_add(b, "&posterHeight=", 14);
                add_number(b, pg_obj_get(poster, "height"));
            }
        }
    }
    return 1;
}

pg_value *pg_media_string(pg_arena *a, pg_media_kind k, const pg_value *obj)
{
    char stack[1024], stack2[1024];
    pg_strbuf b, c;
    const pg_value *url;
    pg_value *out = NULL;
    if (obj->type != PG_OBJECT)
        return (pg_value *)obj;
    url = member_str(obj, "url");
    pg_strbuf_init(&b, stack, sizeof stack);
    if (!derive(&b, k, obj)) {
        pg_strbuf_free(&b);
        return url ? (pg_value *)url : pg_new_string(a, "", 0);
    }
    /* The string a Velo caller stored, when it still says what the object says:
     * the derived one would drop what Wix's objects have no field for (a query, other
     * fragment parameters, the caller's own percent-encoding). */
    if (url && !b.oom && url->u.str.len == b.len && memcmp(url->u.str.s, b.buf, b.len) == 0) {
        /* the string the object gives, as stored (an image with a filename, nearly always):
         * either branch below would answer these bytes, so the parse is not needed */
        pg_strbuf_free(&b);
        return (pg_value *)url;
    }
    if (url && !b.oom) {
        const char *why;
        pg_value *parsed = parse(a, k, url->u.str.s, url->u.str.len, &why, 0);
        int same;
        pg_strbuf_init(&c, stack2, sizeof stack2);
        same = parsed && derive(&c, k, parsed) && !c.oom && c.len == b.len
               && memcmp(c.buf, b.buf, b.len) == 0;
        /* out of memory is NULL, never the other string (found by the fuzzer) */
        if ((!parsed && !why) || c.oom) {
            pg_strbuf_free(&c);
            pg_strbuf_free(&b);
            return NULL;
        }
        pg_strbuf_free(&c);
        if (same) {
            pg_strbuf_free(&b);
            return (pg_value *)url;
        }
    }
    if (!b.oom)
        out = pg_new_string(a, b.buf, b.len);
    pg_strbuf_free(&b);
    return out;
}

typedef struct {
    const char *key;
    kind k;
    int required;
} rule;

static pg_value *object_of(ctx *c, const pg_value *in, const rule *rules, size_t nrules);

static const rule image_rules[] = {
    { "id", K_ID, 0 }, { "url", K_URL, 0 }, { "height", K_DIM, 0 }, { "width", K_DIM, 0 },
    { "altText", K_TEXT, 0 }, { "filename", K_TEXT, 0 }, { "watermark", K_TOKEN, 0 },
};
static const rule poster_rules[] = {
    { "id", K_POSTER_ID, 0 }, { "url", K_URL, 0 }, { "height", K_DIM, 0 },
    { "width", K_DIM, 0 }, { "altText", K_TEXT, 0 }, { "filename", K_TEXT, 0 },
};
static const rule resolution_rules[] = {
    { "url", K_URL, 1 }, { "height", K_DIM, 1 }, { "width", K_DIM, 1 },
    { "format", K_TEXT, 1 }, { "quality", K_TEXT, 0 }, { "filename", K_TEXT, 0 },
};
static const rule video_rules[] = {
    { "id", K_ID, 0 }, { "url", K_URL, 0 }, { "resolutions", K_RESOLUTIONS, 0 },
    { "filename", K_TEXT, 0 }, { "posters", K_POSTERS, 0 },
};
#define COUNT(r) (sizeof(r) / sizeof((r)[0]))

static pg_value *list_of(ctx *c, const pg_value *in, const rule *rules, size_t nrules)
{
    pg_value *out;
    size_t i, n;
    if (!(in->type == PG_ARRAY || (in->type == PG_OBJECT && in->u.obj.n == 0)))
        return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "expected an array, got %s",
                          pg_type_name(in)), NULL;
    n = in->type == PG_ARRAY ? in->u.arr.n : 0;
    if (n > MAX_LIST)
        return pg_fail_at(c->st, PG_RESOURCE_EXHAUSTED, c->path, "more than %d entries", MAX_LIST),
               NULL;
    if (!(out = pg_new_array(c->a, n)))
        return oom(c), NULL;
    for (i = 0; i < n; i++) {
        size_t old = pg_path_index(c->path, i + 1);
        pg_value *v = object_of(c, in->u.arr.v[i], rules, nrules);
        if (!v)
            return NULL;
        if (rules == poster_rules && !pg_obj_get(v, "id")) {
            const pg_value *url = pg_obj_get(v, "url");
            pg_value seg;
            size_t o2;
            if (!url)
                return bad(c, "a poster needs an id or a url"), NULL;
            /* the Velo string names a poster by its url's last segment, as an id */
            seg = *url;
            while (seg.u.str.len && url->u.str.s[seg.u.str.len - 1] != '/')
                seg.u.str.len--;
            seg.u.str.s = url->u.str.s + seg.u.str.len;
            seg.u.str.len = url->u.str.len - seg.u.str.len;
            o2 = pg_path_key(c->path, "url", 3);
            if (seg.u.str.len == 0)
                return bad(c, "must end in a file name (the poster's id), not a slash"), NULL;
            if (!check_id(c, &seg, POSTER_FORBIDDEN))
                return NULL;
            pg_path_pop(c->path, o2);
        }
        out->u.arr.v[out->u.arr.n++] = v;
        pg_path_pop(c->path, old);
    }
    return out;
}

static pg_value *object_of(ctx *c, const pg_value *in, const rule *rules, size_t nrules)
{
    pg_value *out;
    size_t i, j;
    if (in->type != PG_OBJECT)
        return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "expected a table, got %s",
                          pg_type_name(in)), NULL;
    if (!(out = pg_new_object(c->a, in->u.obj.n)))
        return oom(c), NULL;
    for (i = 0; i < in->u.obj.n; i++) {
        const pg_member *m = &in->u.obj.m[i];
        size_t old = pg_path_key(c->path, m->key, m->keylen);
        const rule *r = NULL;
        pg_value *v = m->val;
        int ok = 1;
        for (j = 0; j < nrules && !r; j++)
            if (key_is(m, rules[j].key))
                r = &rules[j];
        if (!r)
            return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "unknown field"), NULL;
        if (v->type == PG_NULL) {
            pg_path_pop(c->path, old);
            continue;
        }
        switch (r->k) {
        case K_RESOLUTIONS: ok = (v = list_of(c, v, resolution_rules, COUNT(resolution_rules))) != NULL; break;
        case K_POSTERS: ok = (v = list_of(c, v, poster_rules, COUNT(poster_rules))) != NULL; break;
        default: ok = check_leaf(c, r->k, v); break;
        }
        if (!ok)
            return NULL;
        if (!pg_obj_addl(c->a, out, m->key, m->keylen, v))
            return oom(c), NULL;
        pg_path_pop(c->path, old);
    }
    for (j = 0; j < nrules; j++) {
        if (rules[j].required && !pg_obj_get(out, rules[j].key)) {
            size_t old = pg_path_key(c->path, rules[j].key, strlen(rules[j].key));
            bad(c, "required");
            pg_path_pop(c->path, old);
            return NULL;
        }
    }
    return out;
}

/* A REST object: an id (with the image's pixel size), or a url that is a Velo
 * string (a wix: one is parsed, and what else the object says is kept). */
static pg_value *from_object(ctx *c, pg_media_kind k, const pg_value *in)
{
    pg_value *out = k == PG_IMAGE ? object_of(c, in, image_rules, COUNT(image_rules))
                                  : object_of(c, in, video_rules, COUNT(video_rules));
    const pg_value *url;
    if (!out)
        return NULL;
    if (pg_obj_get(out, "id")) {
        static const char *const dims[] = { "width", "height" };
        size_t i;
        for (i = 0; k == PG_IMAGE && i < 2; i++) {
            if (!pg_obj_get(out, dims[i])) {
                size_t old = pg_path_key(c->path, dims[i], strlen(dims[i]));
                bad(c, "required when id is present");
                pg_path_pop(c->path, old);
                return NULL;
            }
        }
        return out; /* its url is kept as sent */
    }
    if (!(url = pg_obj_get(out, "url"))) {
        return bad(c, "needs an id or a url"), NULL;
    } else {
        const char *why;
        size_t i;
        /* named as the media field itself: its url is what a Velo string is */
        pg_value *parsed = pg_media_parse(c->a, k, url->u.str.s, url->u.str.len, &why);
        if (!parsed)
            return pg_media_refuse(c->st, c->path, why), NULL;
        /* what the string says, then the object's other fields */
        for (i = 0; i < out->u.obj.n; i++) {
            const pg_member *m = &out->u.obj.m[i];
            if (key_is(m, "url") || pg_obj_getl(parsed, m->key, m->keylen))
                continue;
            if (!pg_obj_addl(c->a, parsed, m->key, m->keylen, m->val))
                return oom(c), NULL;
        }
        return parsed;
    }
}

pg_value *pg_media_stored(pg_arena *a, pg_media_kind k, const char *s, size_t n, const char **why,
                          int strict)
{
    char stack[1024];
    pg_strbuf b;
    pg_value *o = parse(a, k, s, n, why, strict), *url;
    const char *prefix = k == PG_IMAGE ? IMAGE_PREFIX : VIDEO_PREFIX;
    int same;
    if (!o || pg_obj_get(o, "url"))
        return o;
    if (n >= PREFIX_LEN - 4 && memcmp(s, prefix + 4, PREFIX_LEN - 4) == 0) { /* legacy: compared with "wix:" */
        char *full = pg_arena_alloc(a, n + 4);
        if (!full)
            return OOM(why);
        memcpy(full, "wix:", 4);
        memcpy(full + 4, s, n);
        s = full;
        n += 4;
    }
    /* a string the object would not give back (a query, other fragment
     * parameters, its own percent-encoding) is kept whole as the url */
    pg_strbuf_init(&b, stack, sizeof stack);
    same = !derive(&b, k, o) || (!b.oom && b.len == n && memcmp(b.buf, s, n) == 0);
    pg_strbuf_free(&b);
    if (same)
        return o;
    if (!(url = text(a, s, n)) || !pg_obj_add(a, o, "url", url))
        return OOM(why);
    return o;
}

pg_value *pg_media_value(pg_arena *a, pg_media_kind k, const pg_value *in, pg_path *path,
                         pg_status *st)
{
    ctx c = { a, path, st };
    if (in->type == PG_STRING) {
        const char *why;
        pg_value *out;
        if (!check_text(&c, in, 1, PG_MAX_MEDIA_URL))
            return NULL;
        out = pg_media_stored(a, k, in->u.str.s, in->u.str.len, &why, 1);
        if (!out)
            return pg_media_refuse(st, path, why), NULL;
        return out;
    }
    if (in->type != PG_OBJECT)
        return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "expected a string or a table, got %s",
                          pg_type_name(in)), NULL;
    return from_object(&c, k, in);
}
