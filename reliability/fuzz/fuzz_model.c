/* libFuzzer target: the C code that turns input into the data model.
 * JSON input -> pg_json_decode -> pg_validate_item / pg_validate_items /
 * pg_validate_gallery (create and update), then pg_doc_apply and the
 * pg_json_encode/decode round trip. Checked on every input:
 *   - the JSON codec round-trips: encode(decode(encode(v))) == encode(v);
 *   - a failure has a known code, a non-empty message that starts with the
 *     argument's path, and is NUL-terminated within pg_status.msg;
 *   - a validated item document is a fixed point: validating its encoding
 *     again succeeds and encodes to the same bytes (what the store saves is
 *     what it would accept);
 *   - media: the Velo string of every stored media object reads back (as a
 *     caller's string) to an object with the same Velo string (one grammar);
 *   - [stored, patch]: pg_doc_apply of a valid patch to a valid document is
 *     again a valid document, with at most one media member, no nulls, the
 *     patch's fields and the stored fields the patch leaves alone;
 *   - queries (query.c): the input as a query of items and of galleries; a parsed
 *     query's cursor parses back to the same sort and position, the cursor altered in
 *     one character is INVALID_ARGUMENT, and so is the input itself as a cursor;
 *   - moves (move.c): the first bytes read as two doubles, a count and flags: when
 *     pg_move_place finds room, its sort orders are finite, strictly increasing and
 *     strictly between the neighbours given; it finds room whenever there plainly is
 *     some (neighbours moderate integers at least 1 apart, or none);
 *   - out of memory: the same input is run again with the Nth allocation of
 *     arena.c or json.c failing, for every N the normal run used (up to 64): no crash,
 *     and a failure is either the normal one or INTERNAL "out of memory".
 * Built by reliability/fuzz.sh with arena.c and json.c compiled with
 * -Dmalloc=pgf_malloc -Drealloc=pgf_realloc -Dcalloc=pgf_calloc. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include "media.h"
#include "model.h"
#include "query.h"
#include "move.h"
#include "status.h"
#include "json.h"
#include "value.h"

/* ---- allocation failure injection --------------------------------------- */

static long alloc_count, fail_at; /* fail_at 0: never */

static int should_fail(void) { return ++alloc_count == fail_at; }
void *pgf_malloc(size_t n) { return should_fail() ? NULL : malloc(n); }
void *pgf_calloc(size_t a, size_t b) { return should_fail() ? NULL : calloc(a, b); }
void *pgf_realloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n); }

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "fuzz_model: check failed: %s: ", #cond);         \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
            abort();                                                          \
        }                                                                     \
    } while (0)

static int oom_mode;

static void check_status(const pg_status *st, const char *root)
{
    size_t n = strnlen(st->msg, sizeof st->msg);
    CHECK(n < sizeof st->msg, "message not terminated");
    CHECK(n > 0, "empty message, code %d", st->code);
    if (st->code == PG_INTERNAL) {
        CHECK(oom_mode && strcmp(st->msg, "out of memory") == 0, "INTERNAL outside OOM: %s", st->msg);
        return;
    }
    /* validation judges input alone: ABORTED (a stale revision), NOT_FOUND and the store's
     * codes need a stored row, so they are wrong here */
    CHECK(st->code == PG_INVALID_ARGUMENT || st->code == PG_RESOURCE_EXHAUSTED,
          "unexpected code %d: %s", st->code, st->msg);
    CHECK(strncmp(st->msg, root, strlen(root)) == 0, "message without its path (%s): %s", root, st->msg);
}

static int same(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && memcmp(a, b, an) == 0;
}

static void check_media_one(pg_arena *a, const pg_value *owner, const char *key, pg_media_kind k)
{
    const pg_value *obj = owner ? pg_obj_get(owner, key) : NULL;
    pg_value *s1, *back, *s2;
    const char *why = NULL;
    if (!obj)
        return;
    CHECK(obj->type == PG_OBJECT, "stored %s is not an object", key);
    if (!(s1 = pg_media_string(a, k, obj)))
        return; /* OOM */
    CHECK(s1->type == PG_STRING, "no Velo string for %s", key);
    back = pg_media_stored(a, k, s1->u.str.s, s1->u.str.len, &why, 1); /* as a caller's string */
    if (!back && !why)
        return; /* OOM */
    CHECK(back != NULL, "the Velo string of a stored %s does not parse (%s): %.*s", key, why,
          (int)s1->u.str.len, s1->u.str.s);
    if (!(s2 = pg_media_string(a, k, back)))
        return;
    CHECK(same(s1->u.str.s, s1->u.str.len, s2->u.str.s, s2->u.str.len), "%s: %.*s reads back as %.*s",
          key, (int)s1->u.str.len, s1->u.str.s, (int)s2->u.str.len, s2->u.str.s);
}

static void check_media(pg_arena *a, const pg_value *doc)
{
    const pg_value *second = pg_obj_get(doc, "secondaryMedia");
    check_media_one(a, pg_obj_get(doc, "image"), "imageInfo", PG_IMAGE);
    check_media_one(a, pg_obj_get(doc, "video"), "videoInfo", PG_VIDEO);
    check_media_one(a, second ? pg_obj_get(second, "image") : NULL, "imageInfo", PG_IMAGE);
}

/* A revision validation let through: in range, and its text reads back as what the
 * input said (digits only, leading zeros aside). */
static void check_revision(const pg_value *in, int has, int64_t revision)
{
    const pg_value *v = NULL;
    char text[PG_REVISION_TEXT];
    size_t i = 0, n;
    /* the last of the key's members: a decoded object may repeat a key, and the last wins */
    for (n = 0; in && in->type == PG_OBJECT && n < in->u.obj.n; n++)
        if (in->u.obj.m[n].keylen == 8 && memcmp(in->u.obj.m[n].key, "revision", 8) == 0)
            v = in->u.obj.m[n].val;
    if (!has) {
        CHECK(!v || v->type == PG_NULL, "a revision given was dropped");
        return;
    }
    CHECK(revision >= 1, "revision %lld accepted", (long long)revision);
    CHECK(v && v->type == PG_STRING, "a revision from nowhere");
    pg_revision_text(revision, text);
    n = strlen(text);
    while (i < v->u.str.len && v->u.str.s[i] == '0')
        i++;
    CHECK(v->u.str.len - i == n && memcmp(v->u.str.s + i, text, n) == 0, "revision %.*s read as %s",
          (int)v->u.str.len, v->u.str.s, text);
}

/* An item document must survive encode -> decode -> validate -> encode. */
static void check_fixed_point(pg_arena *a, const pg_value *doc)
{
    check_media(a, doc);
    size_t n1, n2;
    char *e1 = pg_json_encode(a, doc, &n1), *e2;
    const char *err = NULL;
    pg_value *back;
    pg_item_in again;
    pg_status st;
    pg_path path;
    if (!e1)
        return; /* OOM */
    back = pg_json_decode(a, e1, n1, &err);
    if (!back) {
        CHECK(oom_mode, "a document's encoding does not decode: %s: %.*s", err, (int)n1, e1);
        return;
    }
    pg_path_init(&path, "item");
    if (!pg_validate_item(a, back, PG_CREATE, &path, &again, &st)) {
        CHECK(oom_mode, "a validated document does not validate again: %s: %.*s", st.msg, (int)n1, e1);
        return;
    }
    e2 = pg_json_encode(a, again.doc, &n2);
    if (e2)
        CHECK(same(e1, n1, e2, n2), "normalisation is not idempotent:\n%.*s\n%.*s", (int)n1, e1,
              (int)n2, e2);
}

static int is_media(const pg_member *m)
{
    return (m->keylen == 5 && (!memcmp(m->key, "image", 5) || !memcmp(m->key, "video", 5)))
           || (m->keylen == 4 && !memcmp(m->key, "text", 4));
}

static const pg_value *get_l(const pg_value *o, const char *k, size_t n)
{
    size_t i;
    for (i = 0; i < o->u.obj.n; i++)
        if (o->u.obj.m[i].keylen == n && memcmp(o->u.obj.m[i].key, k, n) == 0)
            return o->u.obj.m[i].val;
    return NULL;
}

static size_t count_l(const pg_value *o, const char *k, size_t n)
{
    size_t i, c = 0;
    for (i = 0; i < o->u.obj.n; i++)
        c += o->u.obj.m[i].keylen == n && memcmp(o->u.obj.m[i].key, k, n) == 0;
    return c;
}

static void check_apply(pg_arena *a, const pg_value *stored, const pg_value *patch)
{
    pg_value *merged = pg_doc_apply(a, stored, patch);
    size_t i, media = 0;
    int patch_media = 0;
    if (!merged)
        return; /* OOM */
    for (i = 0; i < patch->u.obj.n; i++)
        if (is_media(&patch->u.obj.m[i]) && patch->u.obj.m[i].val->type != PG_NULL)
            patch_media = 1;
    for (i = 0; i < merged->u.obj.n; i++) {
        const pg_member *m = &merged->u.obj.m[i];
        CHECK(m->val->type != PG_NULL, "null member %.*s after apply", (int)m->keylen, m->key);
        if (is_media(m))
            media++;
    }
    CHECK(media <= 1, "%zu media members after apply", media);
    for (i = 0; i < patch->u.obj.n; i++) {
        const pg_member *m = &patch->u.obj.m[i];
        const pg_value *got = get_l(merged, m->key, m->keylen);
        if (count_l(patch, m->key, m->keylen) > 1)
            continue; /* a duplicate key: JSON only, Lua tables cannot have one */
        if (m->val->type == PG_NULL)
            CHECK(!got, "cleared field %.*s still there", (int)m->keylen, m->key);
        else
            CHECK(got == m->val || get_l(patch, m->key, m->keylen) != m->val,
                  "patch field %.*s not applied", (int)m->keylen, m->key);
    }
    for (i = 0; i < stored->u.obj.n; i++) {
        const pg_member *m = &stored->u.obj.m[i];
        if (get_l(patch, m->key, m->keylen) || (patch_media && is_media(m))
            || get_l(stored, m->key, m->keylen) != m->val) /* a duplicate key (JSON only) */
            continue;
        CHECK(get_l(merged, m->key, m->keylen) == m->val, "untouched field %.*s lost",
              (int)m->keylen, m->key);
    }
    check_fixed_point(a, merged);
}

/* pg_move_place on the input's first 19 bytes: lo, hi (raw doubles), n, which neighbours. */
static void check_place(const uint8_t *data, size_t size)
{
    static double out[1000];
    double lo, hi;
    size_t n, i;
    int has_lo, has_hi, room, plain;
    if (size < 19)
        return;
    memcpy(&lo, data, 8);
    memcpy(&hi, data + 8, 8);
    n = 1 + ((size_t)data[16] | (size_t)data[17] << 8) % 1000;
    has_lo = data[18] & 1;
    has_hi = (data[18] >> 1) & 1;
    if (data[18] & 4) { /* moderate integers: the common case of stored sort orders */
        lo = (double)(int32_t)((uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16);
        hi = lo + 1 + (double)(data[8] | data[9] << 8);
    }
    room = pg_move_place(lo, has_lo, hi, has_hi, n, out);
    if (room) {
        for (i = 0; i < n; i++) {
            CHECK(isfinite(out[i]), "place: sort %zu not finite", i);
            CHECK(i == 0 || out[i - 1] < out[i], "place: not increasing at %zu", i);
        }
        CHECK(!has_lo || lo < out[0], "place: not after lo");
        CHECK(!has_hi || out[n - 1] < hi, "place: not before hi");
    }
    plain = (!has_lo && !has_hi)
            || ((data[18] & 4) && (!has_lo || !has_hi || hi - lo >= 1));
    CHECK(room || !plain, "place: no room found for %zu items between %.17g (%d) and %.17g (%d)", n,
          lo, has_lo, hi, has_hi);
}

/* One pass over an input; returns a signature of the outcomes (bit per check). */
static const unsigned char SECRET[PG_QUERY_SECRET_LEN] = { 7, 1, 2, 3, 4, 5, 6, 7, 8 };
#define GID "01a23504-1397-7003-95df-9439e8345398"

/* {cursorPaging = {cursor = c}}, parsed for target; 1 when it parsed. */
static int parse_cursor(pg_arena *a, const char *c, size_t len, pg_query_target t, pg_query *q,
                        pg_status *st)
{
    pg_value *query = pg_new_object(a, 1), *paging = pg_new_object(a, 1);
    pg_value *cur = pg_new_string(a, c, len);
    pg_path path;
    if (!query || !paging || !cur || !pg_obj_add(a, paging, "cursor", cur)
        || !pg_obj_add(a, query, "cursorPaging", paging)) {
        pg_fail(st, PG_INTERNAL, "out of memory");
        return 0;
    }
    pg_path_init(&path, "query");
    return pg_query_parse(a, query, t, t == PG_Q_ITEMS ? GID : NULL, SECRET, &path, q, st);
}

static int check_query(pg_arena *a, const pg_value *v, const uint8_t *data, size_t size,
                       pg_query_target t)
{
    pg_query q, back;
    pg_query_val vals[PG_QUERY_MAX_SORT];
    pg_status st;
    pg_path path;
    char *c;
    size_t i, len;
    /* the input itself is never a cursor: nobody without the secret makes one */
    if (!parse_cursor(a, (const char *)data, size, t, &back, &st))
        check_status(&st, "query");
    else
        CHECK(0, "the input was taken as a cursor");
    pg_path_init(&path, "query");
    if (!pg_query_parse(a, v, t, t == PG_Q_ITEMS ? GID : NULL, SECRET, &path, &q, &st)) {
        check_status(&st, "query");
        return 0;
    }
    CHECK(q.nsort >= 2 && q.sort[q.nsort - 1].field == PG_QF_KEY, "no row key last");
    CHECK(q.limit >= 1 && q.limit <= PG_QUERY_LIMIT_MAX, "limit %lld", (long long)q.limit);
    for (i = 0; i + 1 < q.nsort; i++) {
        memset(&vals[i], 0, sizeof vals[i]);
        vals[i].is_num = q.sort[i].field != PG_QF_NAME;
        vals[i].n = 1796185789335.0 + (double)i;
        vals[i].s = "n\xc3\xa9";
        vals[i].len = 3;
    }
    if (!(c = pg_query_cursor(a, &q, vals, 12345, SECRET)))
        return 1; /* OOM */
    len = strlen(c);
    if (!parse_cursor(a, c, len, t, &back, &st)) {
        CHECK(oom_mode && st.code == PG_INTERNAL, "a cursor made does not parse: %s", st.msg);
        return 1;
    }
    CHECK(back.has_after && back.after_key == 12345 && back.nsort == q.nsort
          && (back.filter != NULL) == (q.filter != NULL),
          "the cursor's query differs");
    for (i = 0; i < q.nsort; i++)
        CHECK(back.sort[i].field == q.sort[i].field && back.sort[i].desc == q.sort[i].desc,
              "sort %zu differs", i);
    for (i = 0; i + 1 < q.nsort; i++)
        CHECK(back.after[i].is_num == vals[i].is_num
              && (vals[i].is_num ? back.after[i].n == vals[i].n
                                 : back.after[i].len == 3 && memcmp(back.after[i].s, vals[i].s, 3) == 0),
              "position %zu differs", i);
    /* one character changed */
    {
        size_t at = (size_t)(data[size / 2] + size) % len;
        c[at] = c[at] == 'A' ? 'B' : 'A';
        if (parse_cursor(a, c, len, t, &back, &st))
            CHECK(0, "an altered cursor was taken (at %zu)", at);
        if (st.code == PG_INTERNAL)
            CHECK(oom_mode, "INTERNAL outside OOM: %s", st.msg);
        else
            CHECK(st.code == PG_INVALID_ARGUMENT && strncmp(st.msg, "query.cursorPaging.cursor", 25) == 0,
                  "an altered cursor: %s", st.msg);
    }
    return 1;
}

/* Some object of v names a key twice (the naive way, to check the decoder's own). */
static int has_dup(const pg_value *v)
{
    size_t i, j;
    if (v->type == PG_ARRAY) {
        for (i = 0; i < v->u.arr.n; i++)
            if (has_dup(v->u.arr.v[i]))
                return 1;
    } else if (v->type == PG_OBJECT) {
        for (i = 0; i < v->u.obj.n; i++) {
            const pg_member *m = &v->u.obj.m[i];
            for (j = 0; j < i; j++)
                if (v->u.obj.m[j].keylen == m->keylen && memcmp(v->u.obj.m[j].key, m->key, m->keylen) == 0)
                    return 1;
            if (has_dup(m->val))
                return 1;
        }
    }
    return 0;
}

static unsigned run(const uint8_t *data, size_t size)
{
    pg_arena *a = pg_arena_new();
    const char *err = NULL;
    pg_value *v;
    pg_status st;
    pg_path path;
    pg_item_in item, patch, *items;
    pg_gallery_in gal;
    size_t n, n1, n2;
    unsigned sig = 0;
    char *e1, *e2;
    if (!a)
        return 0;
    v = pg_json_decode(a, (const char *)data, size, &err);
    if (!v) {
        CHECK(err && *err, "decode failed without a reason");
        pg_arena_free(a);
        return 1u << 31;
    }
    /* the decoder for text from outside: the same tree, unless an object repeats a key */
    {
        const pg_member *dup = NULL;
        const char *ierr = NULL;
        pg_value *vin = pg_json_decode_input(a, (const char *)data, size, &ierr, &dup);
        int twice = has_dup(v);
        if (vin)
            CHECK(!twice, "decode_input took an object that repeats a key");
        else if (!oom_mode || dup)
            CHECK(twice && dup && ierr && strcmp(ierr, "duplicate key") == 0,
                  "decode_input refused text the decoder takes, without a repeated key: %s",
                  ierr ? ierr : "(no reason)");
        else
            CHECK(ierr && *ierr, "decode_input failed without a reason");
    }
    /* codec round trip */
    e1 = pg_json_encode(a, v, &n1);
    if (e1) {
        pg_value *v2 = pg_json_decode(a, e1, n1, &err);
        if (v2 && (e2 = pg_json_encode(a, v2, &n2)))
            CHECK(same(e1, n1, e2, n2), "codec round trip differs:\n%.*s\n%.*s", (int)n1, e1, (int)n2, e2);
        else
            CHECK(oom_mode || v2, "re-decoding an encoding failed: %s", err);
    }

    pg_path_init(&path, "item");
    if (pg_validate_item(a, v, PG_CREATE, &path, &item, &st)) {
        sig |= 1;
        check_fixed_point(a, item.doc);
    } else {
        check_status(&st, "item");
    }
    pg_path_init(&path, "item");
    if (pg_validate_item(a, v, PG_UPDATE, &path, &patch, &st)) {
        sig |= 2;
        check_revision(v, patch.has_revision, patch.revision);
    } else
        check_status(&st, "item");
    pg_path_init(&path, "items");
    if (pg_validate_items(a, v, 1, &path, &items, &n, &st))
        sig |= 4;
    else
        check_status(&st, "items");
    pg_path_init(&path, "gallery");
    if (pg_validate_gallery(a, v, PG_CREATE, &path, &gal, &st)) {
        sig |= 8;
        for (n1 = 0; n1 < gal.nitems; n1++)
            check_fixed_point(a, gal.items[n1].doc);
    } else {
        check_status(&st, "gallery");
    }
    pg_path_init(&path, "gallery");
    if (pg_validate_gallery(a, v, PG_UPDATE, &path, &gal, &st)) {
        sig |= 16;
        check_revision(v, gal.has_revision, gal.revision);
    } else
        check_status(&st, "gallery");

    if (check_query(a, v, data, size, PG_Q_ITEMS))
        sig |= 64;
    if (check_query(a, v, data, size, PG_Q_GALLERIES))
        sig |= 128;

    /* [stored, patch] */
    if (v->type == PG_ARRAY && v->u.arr.n >= 2) {
        pg_item_in stored;
        pg_path_init(&path, "item");
        if (pg_validate_item(a, v->u.arr.v[0], PG_CREATE, &path, &stored, &st)) {
            pg_path_init(&path, "item");
            if (pg_validate_item(a, v->u.arr.v[1], PG_UPDATE, &path, &patch, &st)) {
                sig |= 32;
                check_apply(a, stored.doc, patch.doc);
            }
        }
    }
    pg_arena_reset(a);
    pg_arena_free(a);
    return sig;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned normal;
    long used, k;
    if (size > 256 * 1024)
        return 0;
    oom_mode = 0;
    fail_at = 0;
    alloc_count = 0;
    check_place(data, size);
    normal = run(data, size);
    used = alloc_count;
    oom_mode = 1;
    for (k = 1; k <= used && k <= 64; k++) {
        unsigned sig;
        alloc_count = 0;
        fail_at = k;
        sig = run(data, size);
        /* a check that succeeded under OOM must also succeed normally */
        CHECK((sig & ~normal & 0xff) == 0, "OOM at allocation %ld made a check succeed (%x vs %x)", k, sig, normal);
    }
    oom_mode = 0;
    fail_at = 0;
    return 0;
}
