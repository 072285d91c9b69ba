#include "model.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ids.h"
#include "json.h"
#include "media.h"
#include "utf8.h"

/* Byte bounds of spec section 4. */
#define MAX_SHORT 1024
#define MAX_DESCRIPTION 16384
#define MAX_URL 4096
#define MAX_HTML (1024 * 1024)
#define MAX_TAGS 100
#define MAX_TAG 256
#define MAX_FREE_DEPTH 4
#define MAX_FREE_BYTES (64 * 1024)

typedef struct {
    pg_arena *a;
    pg_path *path;
    pg_status *st;
} ctx;

static int oom(ctx *c) { return pg_fail(c->st, PG_INTERNAL, "out of memory"); }

int pg_is_null(const pg_value *v) { return v && v->type == PG_NULL; }

int pg_is_array(const pg_value *v)
{
    return v && (v->type == PG_ARRAY || (v->type == PG_OBJECT && v->u.obj.n == 0));
}

#define type_name pg_type_name

static int bad(ctx *c, const char *fmt, const char *arg)
{
    return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, fmt, arg);
}

#define utf8_problem pg_utf8_problem

static int check_string(ctx *c, const pg_value *v, size_t minlen, size_t maxlen)
{
    const char *why;
    if (v->type != PG_STRING)
        return bad(c, "expected a string, got %s", type_name(v));
    if ((why = utf8_problem(v->u.str.s, v->u.str.len)))
        return bad(c, "%s", why);
    if (v->u.str.len > maxlen)
        return pg_fail_at(c->st, PG_RESOURCE_EXHAUSTED, c->path, "longer than %zu bytes", maxlen);
    if (v->u.str.len < minlen)
        return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "must not be empty");
    return 1;
}

static int check_number(ctx *c, const pg_value *v, double min, double max, int integer)
{
    double n;
    if (v->type != PG_NUMBER)
        return bad(c, "expected a number, got %s", type_name(v));
    n = v->u.n;
    if (!isfinite(n))
        return bad(c, "%s", "must be a finite number");
    if (integer && n != floor(n))
        return bad(c, "%s", "must be an integer");
    if (n < min || n > max) {
        if (max == HUGE_VAL)
            return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "must be >= %.15g", min);
        return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "must be between %.15g and %.17g", min,
                          max);
    }
    return 1;
}

static int check_object(ctx *c, const pg_value *v)
{
    if (v->type == PG_OBJECT)
        return 1;
    if (v->type == PG_ARRAY)
        return bad(c, "%s", "expected a table with named fields, got an array");
    return bad(c, "expected a table, got %s", type_name(v));
}

static int key_is(const pg_member *m, const char *k)
{
    return m->keylen == strlen(k) && memcmp(m->key, k, m->keylen) == 0;
}

static int unknown(ctx *c)
{
    return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "unknown field");
}

static int add(ctx *c, pg_value *obj, const pg_member *m, pg_value *v)
{
    return pg_obj_addl(c->a, obj, m->key, m->keylen, v) ? 1 : oom(c);
}

/* ---- free-form tables (image.exif, text.css) --------------------------- */

static int check_free(ctx *c, const pg_value *v, int depth)
{
    size_t i, old;
    int ok = 1;
    switch (v->type) {
    case PG_BOOL:
        return 1;
    case PG_NUMBER:
        return isfinite(v->u.n) ? 1 : bad(c, "%s", "must be a finite number");
    case PG_STRING:
        return check_string(c, v, 0, MAX_FREE_BYTES);
    case PG_NULL:
        return bad(c, "%s", "null is not allowed here");
    case PG_INVALID:
    case PG_RAW:
        return bad(c, "unsupported value: %s", v->u.str.s);
    case PG_ARRAY:
    case PG_OBJECT:
        if (depth > MAX_FREE_DEPTH)
            return bad(c, "nested deeper than %s levels", "4");
        if (v->type == PG_ARRAY) {
            for (i = 0; ok && i < v->u.arr.n; i++) {
                old = pg_path_index(c->path, i + 1);
                ok = check_free(c, v->u.arr.v[i], depth + 1);
                if (ok)
                    pg_path_pop(c->path, old);
            }
            return ok;
        }
        for (i = 0; ok && i < v->u.obj.n; i++) {
            const pg_member *m = &v->u.obj.m[i];
            const char *why = utf8_problem(m->key, m->keylen);
            old = pg_path_key(c->path, m->key, m->keylen);
            if (why)
                return bad(c, "key %s", why);
            ok = check_free(c, m->val, depth + 1);
            if (ok)
                pg_path_pop(c->path, old);
        }
        return ok;
    }
    return 0;
}

static int free_table(ctx *c, const pg_value *v)
{
    size_t len = 0;
    if (!check_object(c, v) || !check_free(c, v, 1))
        return 0;
    if (!pg_json_encode(c->a, v, &len))
        return oom(c);
    if (len > MAX_FREE_BYTES)
        return pg_fail_at(c->st, PG_RESOURCE_EXHAUSTED, c->path, "larger than %d bytes once encoded",
                          MAX_FREE_BYTES);
    return 1;
}

/* ---- nested objects ----------------------------------------------------- */

/* One field of a nested object: rules for a member, by key. */
typedef enum { F_STRING, F_NUMBER, F_INT, F_IMAGE, F_VIDEO, F_ENUM, F_FREE, F_IGNORE, F_POINT, F_UNSHARP,
               F_DURATION } field_kind;

typedef struct {
    const char *key;
    field_kind kind;
    double min, max;      /* bytes for strings, range for numbers */
    const char *extra;    /* "|"-separated enum */
    int required;
} field;

static int check_enum(ctx *c, const pg_value *v, const char *allowed)
{
    const char *p = allowed;
    if (v->type != PG_STRING)
        return bad(c, "expected a string, got %s", type_name(v));
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == v->u.str.len && memcmp(p, v->u.str.s, n) == 0)
            return 1;
        p += n + (bar ? 1 : 0);
    }
    return bad(c, "must be one of %s", allowed);
}

static pg_value *nested(ctx *c, const pg_value *in, const field *fields, size_t nfields,
                        const char *what);

static const field point_fields[] = {
    { "x", F_NUMBER, 0, 1, NULL, 0 },
    { "y", F_NUMBER, 0, 1, NULL, 0 },
};
static const field unsharp_fields[] = {
    { "amount", F_NUMBER, 0, 5, NULL, 0 },
    { "radius", F_NUMBER, 0, HUGE_VAL, NULL, 0 },
    { "threshold", F_NUMBER, 0, 1, NULL, 0 },
};

/* Legacy video.duration: an integer >= 0, or a string of digits. */
static pg_value *duration(ctx *c, const pg_value *v)
{
    pg_value *num;
    if (v->type == PG_STRING) {
        double n = 0;
        size_t i;
        if (v->u.str.len == 0 || v->u.str.len > 15)
            return bad(c, "%s", "must be an integer >= 0"), NULL;
        for (i = 0; i < v->u.str.len; i++) {
            if (v->u.str.s[i] < '0' || v->u.str.s[i] > '9')
                return bad(c, "%s", "must be an integer >= 0"), NULL;
            n = n * 10 + (v->u.str.s[i] - '0');
        }
        num = pg_new_number(c->a, n);
        return num ? num : (oom(c), NULL);
    }
    return check_number(c, v, 0, 9007199254740992.0, 1) ? (pg_value *)v : NULL;
}

/* Validates one member; returns the value to store, or NULL with *ok = 0. */
static pg_value *field_value(ctx *c, const field *f, const pg_value *v, int *ok)
{
    *ok = 1;
    switch (f->kind) {
    case F_STRING: *ok = check_string(c, v, (size_t)f->min, (size_t)f->max); return (pg_value *)v;
    case F_NUMBER: *ok = check_number(c, v, f->min, f->max, 0); return (pg_value *)v;
    case F_INT: *ok = check_number(c, v, f->min, f->max, 1); return (pg_value *)v;
    case F_IMAGE:
    case F_VIDEO: {
        pg_value *m = pg_media_value(c->a, f->kind == F_IMAGE ? PG_IMAGE : PG_VIDEO, v, c->path, c->st);
        *ok = m != NULL;
        return m;
    }
    case F_ENUM: *ok = check_enum(c, v, f->extra); return (pg_value *)v;
    case F_FREE: *ok = free_table(c, v); return (pg_value *)v;
    case F_IGNORE: return NULL;
    case F_DURATION: {
        pg_value *d = duration(c, v);
        *ok = d != NULL;
        return d;
    }
    case F_POINT:
    case F_UNSHARP: {
        pg_value *out = f->kind == F_POINT ? nested(c, v, point_fields, 2, f->key)
                                           : nested(c, v, unsharp_fields, 3, f->key);
        *ok = out != NULL;
        if (out && f->kind == F_POINT) {
            /* A missing coordinate is 0, as Wix's SDK reports it. */
            static const char *const axes[] = { "x", "y" };
            size_t i;
            for (i = 0; i < 2; i++) {
                pg_value *zero;
                if (pg_obj_get(out, axes[i]))
                    continue;
                if (!(zero = pg_new_number(c->a, 0)) || !pg_obj_add(c->a, out, axes[i], zero))
                    return *ok = oom(c), NULL;
            }
        }
        return out;
    }
    }
    return NULL;
}

/* A nested object replaced whole: null members are simply absent. */
static pg_value *nested(ctx *c, const pg_value *in, const field *fields, size_t nfields,
                        const char *what)
{
    pg_value *out;
    size_t i, j;
    if (!check_object(c, in))
        return NULL;
    out = pg_new_object(c->a, in->u.obj.n);
    if (!out)
        return oom(c), NULL;
    for (i = 0; i < in->u.obj.n; i++) {
        const pg_member *m = &in->u.obj.m[i];
        size_t old = pg_path_key(c->path, m->key, m->keylen);
        const field *f = NULL;
        pg_value *v;
        int ok;
        for (j = 0; j < nfields && !f; j++)
            if (key_is(m, fields[j].key))
                f = &fields[j];
        if (!f)
            return unknown(c), NULL;
        if (!pg_is_null(m->val)) {
            v = field_value(c, f, m->val, &ok);
            if (!ok)
                return NULL;
            if (v && !add(c, out, m, v))
                return NULL;
        }
        pg_path_pop(c->path, old);
    }
    for (j = 0; j < nfields; j++) {
        if (fields[j].required && !pg_obj_get(out, fields[j].key)) {
            pg_path_key(c->path, fields[j].key, strlen(fields[j].key));
            return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "required when %s is present",
                              what), NULL;
        }
    }
    return out;
}

static const field link_fields[] = {
    { "text", F_STRING, 0, MAX_SHORT, NULL, 0 },
    { "url", F_STRING, 0, MAX_URL, NULL, 0 },
    { "target", F_ENUM, 0, 0, "_blank|_self", 0 },
    { "type", F_ENUM, 0, 0, "UNDEFINED|EXTERNAL|INTERNAL", 0 },
    { "wixLinkData", F_FREE, 0, 0, NULL, 0 },
};
static const field image_fields[] = {
    { "imageInfo", F_IMAGE, 0, 0, NULL, 1 },
    { "focalPoint", F_POINT, 0, 0, NULL, 0 },
    { "exif", F_FREE, 0, 0, NULL, 0 },
    { "quality", F_INT, 30, 100, NULL, 0 },
    { "unsharpMasking", F_UNSHARP, 0, 0, NULL, 0 },
    { "type", F_IGNORE, 0, 0, NULL, 0 }, /* legacy, seen in Wix's examples */
};
static const field video_fields[] = {
    { "type", F_ENUM, 0, 0, "UNDEFINED|WIX_MEDIA|YOUTUBE|VIMEO", 0 },
    { "videoInfo", F_VIDEO, 0, 0, NULL, 1 },
    { "durationInMillis", F_INT, 0, 9007199254740992.0, NULL, 0 },
    { "duration", F_DURATION, 0, 0, NULL, 0 }, /* legacy: folded into durationInMillis */
};
static const field text_fields[] = {
    { "html", F_STRING, 0, MAX_HTML, NULL, 1 },
    { "css", F_FREE, 0, 0, NULL, 0 },
    { "editorHtml", F_STRING, 0, MAX_HTML, NULL, 0 },
    { "editorFontId", F_STRING, 0, MAX_SHORT, NULL, 0 },
};

/* video: `duration` only fills `durationInMillis` when that is absent. */
static pg_value *fold_duration(ctx *c, pg_value *video)
{
    pg_value *out;
    pg_value *legacy = pg_obj_get(video, "duration");
    size_t i;
    if (!legacy)
        return video;
    out = pg_new_object(c->a, video->u.obj.n);
    if (!out)
        return oom(c), NULL;
    for (i = 0; i < video->u.obj.n; i++) {
        pg_member *m = &video->u.obj.m[i];
        if (key_is(m, "duration"))
            continue;
        if (!add(c, out, m, m->val))
            return NULL;
    }
    if (!pg_obj_get(out, "durationInMillis") && !pg_obj_add(c->a, out, "durationInMillis", legacy))
        return oom(c), NULL;
    return out;
}

static pg_value *tags(ctx *c, const pg_value *in)
{
    pg_value *out, *values, *list = NULL;
    size_t i, count, old;
    if (!check_object(c, in))
        return NULL;
    for (i = 0; i < in->u.obj.n; i++) {
        const pg_member *m = &in->u.obj.m[i];
        if (!key_is(m, "values")) {
            pg_path_key(c->path, m->key, m->keylen);
            return unknown(c), NULL;
        }
        if (!pg_is_null(m->val))
            list = m->val;
    }
    old = pg_path_key(c->path, "values", 6);
    if (list && !pg_is_array(list))
        return bad(c, "expected an array of strings, got %s", type_name(list)), NULL;
    count = list && list->type == PG_ARRAY ? list->u.arr.n : 0;
    if (count > MAX_TAGS)
        return pg_fail_at(c->st, PG_RESOURCE_EXHAUSTED, c->path, "more than %d tags", MAX_TAGS), NULL;
    for (i = 0; i < count; i++) {
        size_t o = pg_path_index(c->path, i + 1);
        if (!check_string(c, list->u.arr.v[i], 1, MAX_TAG))
            return NULL;
        pg_path_pop(c->path, o);
    }
    pg_path_pop(c->path, old);
    values = pg_new_array(c->a, count);
    out = pg_new_object(c->a, 1);
    if (!values || !out || !pg_obj_add(c->a, out, "values", values))
        return oom(c), NULL;
    for (i = 0; i < count; i++)
        values->u.arr.v[values->u.arr.n++] = list->u.arr.v[i];
    return out;
}

/* ---- items -------------------------------------------------------------- */

static int is_media_key(const pg_member *m)
{
    return key_is(m, "image") || key_is(m, "video") || key_is(m, "text");
}

static int is_item_key(const pg_member *m)
{
    return key_is(m, "title") || key_is(m, "description") || key_is(m, "link")
           || key_is(m, "tags") || key_is(m, "secondaryMedia") || is_media_key(m);
}

/* secondaryMedia: Wix's wire shape, { image = Image } or { text = Text }. */
static pg_value *secondary_media(ctx *c, const pg_value *in)
{
    pg_value *out;
    size_t i;
    if (!check_object(c, in))
        return NULL;
    if (!(out = pg_new_object(c->a, 1)))
        return oom(c), NULL;
    for (i = 0; i < in->u.obj.n; i++) {
        const pg_member *m = &in->u.obj.m[i];
        size_t old = pg_path_key(c->path, m->key, m->keylen);
        pg_value *v;
        if (!key_is(m, "image") && !key_is(m, "text"))
            return unknown(c), NULL;
        if (!pg_is_null(m->val)) {
            if (out->u.obj.n)
                return bad(c, "%s", "only one of image, text may be set"), NULL;
            v = key_is(m, "image") ? nested(c, m->val, image_fields, 6, "image")
                                   : nested(c, m->val, text_fields, 4, "text");
            if (!v || !add(c, out, m, v))
                return NULL;
        }
        pg_path_pop(c->path, old);
    }
    return out;
}

static pg_value *item_member(ctx *c, const pg_member *m, int *ok)
{
    *ok = 1;
    if (key_is(m, "title"))
        return (*ok = check_string(c, m->val, 0, MAX_SHORT)) ? m->val : NULL;
    if (key_is(m, "description"))
        return (*ok = check_string(c, m->val, 0, MAX_DESCRIPTION)) ? m->val : NULL;
    if (key_is(m, "link")) {
        pg_value *l = nested(c, m->val, link_fields, 5, "link");
        *ok = l != NULL;
        return l;
    }
    if (key_is(m, "secondaryMedia")) {
        pg_value *v = secondary_media(c, m->val);
        *ok = v != NULL;
        return v;
    }
    if (key_is(m, "tags")) {
        pg_value *t = tags(c, m->val);
        *ok = t != NULL;
        return t;
    }
    if (key_is(m, "image") || key_is(m, "video") || key_is(m, "text")) {
        pg_value *v = key_is(m, "image") ? nested(c, m->val, image_fields, 6, "image")
                    : key_is(m, "video") ? nested(c, m->val, video_fields, 4, "video")
                                         : nested(c, m->val, text_fields, 4, "text");
        if (v && key_is(m, "video"))
            v = fold_duration(c, v);
        *ok = v != NULL;
        return v;
    }
    *ok = unknown(c);
    return NULL;
}

int pg_validate_item(pg_arena *a, const pg_value *in, pg_mode mode, pg_path *path,
                     pg_item_in *out, pg_status *st)
{
    ctx c = { a, path, st };
    size_t i, media = 0;
    memset(out, 0, sizeof *out);
    if (!check_object(&c, in))
        return 0;
    out->doc = pg_new_object(a, in->u.obj.n);
    if (!out->doc)
        return oom(&c);
    for (i = 0; i < in->u.obj.n; i++) {
        const pg_member *m = &in->u.obj.m[i];
        size_t old = pg_path_key(path, m->key, m->keylen);
        pg_value *v;
        int ok;
        if (key_is(m, "_id") || key_is(m, "type") || key_is(m, "_createdDate")
            || key_is(m, "_updatedDate") || (key_is(m, "revision") && mode == PG_CREATE)) {
            pg_path_pop(path, old);
            continue; /* read-only: a fetched item can be sent back */
        }
        if (key_is(m, "revision")) {
            if (!pg_is_null(m->val)) {
                if (!pg_revision_arg(m->val, path, &out->revision, st))
                    return 0;
                out->has_revision = 1;
            }
            pg_path_pop(path, old);
            continue;
        }
        if (key_is(m, "sortOrder")) {
            if (pg_is_null(m->val) && mode == PG_UPDATE)
                return bad(&c, "%s", "cannot be cleared");
            if (!pg_is_null(m->val)) {
                if (!check_number(&c, m->val, -HUGE_VAL, HUGE_VAL, 0))
                    return 0;
                out->has_sort = 1;
                out->sort = m->val->u.n;
            }
            pg_path_pop(path, old);
            continue;
        }
        if (pg_is_null(m->val)) {
            if (!is_item_key(m))
                return unknown(&c);
            if (mode == PG_UPDATE && !add(&c, out->doc, m, m->val))
                return 0;
            pg_path_pop(path, old);
            continue;
        }
        v = item_member(&c, m, &ok);
        if (!ok)
            return 0;
        if (is_media_key(m))
            media++;
        /* An empty link says nothing: stored as no link (or clears one). */
        if (key_is(m, "link") && v->u.obj.n == 0) {
            if (mode == PG_UPDATE && !add(&c, out->doc, m, pg_new_null(a)))
                return 0;
            pg_path_pop(path, old);
            continue;
        }
        if (!add(&c, out->doc, m, v))
            return 0;
        pg_path_pop(path, old);
    }
    if (media > 1)
        return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "only one of image, video, text may be set");
    return 1;
}

int pg_validate_items(pg_arena *a, const pg_value *in, size_t min_items, pg_path *path,
                      pg_item_in **out, size_t *n, pg_status *st)
{
    ctx c = { a, path, st };
    size_t i, count;
    if (!pg_is_array(in))
        return bad(&c, "expected an array of items, got %s", type_name(in));
    count = in->type == PG_ARRAY ? in->u.arr.n : 0;
    if (count > PG_MAX_BATCH)
        return pg_fail_at(st, PG_RESOURCE_EXHAUSTED, path, "more than %d items", PG_MAX_BATCH);
    if (count < min_items)
        return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "at least %zu item required", min_items);
    *n = count;
    *out = count ? pg_arena_alloc(a, count * sizeof(pg_item_in)) : NULL;
    if (count && !*out)
        return oom(&c);
    for (i = 0; i < count; i++) {
        size_t old = pg_path_index(path, i + 1);
        if (!pg_validate_item(a, in->u.arr.v[i], PG_CREATE, path, &(*out)[i], st))
            return 0;
        pg_path_pop(path, old);
    }
    return 1;
}

int pg_validate_gallery(pg_arena *a, const pg_value *in, pg_mode mode, pg_path *path,
                        pg_gallery_in *out, pg_status *st)
{
    ctx c = { a, path, st };
    size_t i;
    memset(out, 0, sizeof *out);
    if (!check_object(&c, in))
        return 0;
    for (i = 0; i < in->u.obj.n; i++) {
        const pg_member *m = &in->u.obj.m[i];
        size_t old = pg_path_key(path, m->key, m->keylen);
        int null = pg_is_null(m->val);
        if (key_is(m, "_id") || key_is(m, "totalItems") || key_is(m, "_createdDate")
            || key_is(m, "_updatedDate") || (key_is(m, "items") && mode == PG_UPDATE)
            || (key_is(m, "revision") && mode == PG_CREATE)) {
            /* read-only: ignored so a fetched gallery can be sent back */
        } else if (key_is(m, "revision")) {
            if (!null) {
                if (!pg_revision_arg(m->val, path, &out->revision, st))
                    return 0;
                out->has_revision = 1;
            }
        } else if (key_is(m, "name")) {
            if (null) {
                out->name_state = mode == PG_UPDATE ? PG_CLEAR : PG_ABSENT;
            } else {
                if (!check_string(&c, m->val, 0, MAX_SHORT))
                    return 0;
                out->name_state = PG_SET;
                out->name = m->val->u.str.s;
                out->namelen = m->val->u.str.len;
            }
        } else if (key_is(m, "sortOrder")) {
            if (null && mode == PG_UPDATE)
                return bad(&c, "%s", "cannot be cleared");
            if (!null) {
                if (!check_number(&c, m->val, -HUGE_VAL, HUGE_VAL, 0))
                    return 0;
                out->has_sort = 1;
                out->sort = m->val->u.n;
            }
        } else if (key_is(m, "items")) {
            if (!null && !pg_validate_items(a, m->val, 0, path, &out->items, &out->nitems, st))
                return 0;
        } else {
            return unknown(&c);
        }
        pg_path_pop(path, old);
    }
    return 1;
}

/* ---- revisions ---------------------------------------------------------- */

int pg_revision_arg(const pg_value *v, pg_path *path, int64_t *out, pg_status *st)
{
    uint64_t n = 0;
    size_t i, len;
    const char *s;
    if (v->type != PG_STRING)
        return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "expected a string of digits, got %s",
                          type_name(v));
    s = v->u.str.s;
    len = v->u.str.len;
    if (len == 0 || len > 19)
        return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "expected a string of 1 to 19 digits");
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "expected a string of digits");
        n = n * 10 + (uint64_t)(s[i] - '0'); /* 19 digits fit in 64 bits */
    }
    if (n < 1 || n > (uint64_t)INT64_MAX)
        return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "must be from 1 to 9223372036854775807");
    *out = (int64_t)n;
    return 1;
}

void pg_revision_text(int64_t revision, char out[PG_REVISION_TEXT])
{
    char tmp[PG_REVISION_TEXT];
    size_t n = 0, i;
    uint64_t v = revision > 0 ? (uint64_t)revision : 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

/* ---- documents ---------------------------------------------------------- */

pg_value *pg_doc_apply(pg_arena *a, const pg_value *stored, const pg_value *patch)
{
    pg_value *out = pg_new_object(a, stored->u.obj.n + patch->u.obj.n);
    int switches_media = 0;
    size_t i, j;
    if (!out)
        return NULL;
    for (j = 0; j < patch->u.obj.n; j++)
        if (is_media_key(&patch->u.obj.m[j]) && !pg_is_null(patch->u.obj.m[j].val))
            switches_media = 1;
    for (i = 0; i < stored->u.obj.n; i++) {
        const pg_member *m = &stored->u.obj.m[i];
        int replaced = switches_media && is_media_key(m);
        for (j = 0; j < patch->u.obj.n && !replaced; j++)
            replaced = patch->u.obj.m[j].keylen == m->keylen
                       && memcmp(patch->u.obj.m[j].key, m->key, m->keylen) == 0;
        if (!replaced)
            out->u.obj.m[out->u.obj.n++] = *m;
    }
    for (j = 0; j < patch->u.obj.n; j++)
        if (!pg_is_null(patch->u.obj.m[j].val))
            out->u.obj.m[out->u.obj.n++] = patch->u.obj.m[j];
    return out;
}

/* One media member of a document, a Velo string before schema 2: its object. */
static int upgrade_media(pg_arena *a, pg_value *owner, const char *key, pg_media_kind k, int *changed)
{
    size_t i;
    if (!owner || owner->type != PG_OBJECT)
        return 1;
    for (i = 0; i < owner->u.obj.n; i++) {
        pg_member *m = &owner->u.obj.m[i];
        const char *why;
        pg_value *obj;
        if (!key_is(m, key) || m->val->type != PG_STRING)
            continue;
        obj = pg_media_stored(a, k, m->val->u.str.s, m->val->u.str.len, &why, 0);
        if (!obj)
            return why ? -1 : 0;
        m->val = obj;
        *changed = 1;
    }
    return 1;
}

int pg_doc_upgrade(pg_arena *a, pg_value *doc, int *changed)
{
    pg_value *second = pg_obj_get(doc, "secondaryMedia");
    int rc;
    *changed = 0;
    if ((rc = upgrade_media(a, pg_obj_get(doc, "image"), "imageInfo", PG_IMAGE, changed)) <= 0
        || (rc = upgrade_media(a, pg_obj_get(doc, "video"), "videoInfo", PG_VIDEO, changed)) <= 0)
        return rc;
    return upgrade_media(a, second ? pg_obj_get(second, "image") : NULL, "imageInfo", PG_IMAGE, changed);
}

const char *pg_doc_type(const pg_value *doc)
{
    if (pg_obj_get(doc, "image"))
        return "IMAGE";
    if (pg_obj_get(doc, "video"))
        return "VIDEO";
    if (pg_obj_get(doc, "text"))
        return "TEXT";
    return "UNDEFINED";
}

static pg_value *date(pg_arena *a, int64_t ms)
{
    char buf[48];
    pg_iso8601(ms, buf);
    return pg_new_string(a, buf, strlen(buf));
}

/* pg_obj_add skips a NULL value (for absent fields); here a NULL is a failed
 * allocation and must fail the build, not drop the field. */
static int put(pg_arena *a, pg_value *o, const char *key, pg_value *v)
{
    return v && pg_obj_add(a, o, key, v);
}

static pg_value *revision_value(pg_arena *a, int64_t revision)
{
    char buf[PG_REVISION_TEXT];
    pg_revision_text(revision, buf);
    return pg_new_string(a, buf, strlen(buf));
}

pg_value *pg_item_out(pg_arena *a, const char *id, const char *type, double sort,
                      int64_t created_ms, int64_t updated_ms, int64_t revision, pg_value *doc)
{
    size_t i, n = doc ? doc->u.obj.n : 0;
    pg_value *o = pg_new_object(a, 6 + n), *created = date(a, created_ms);
    /* a never-updated item shares one date node (trees are not changed once built) */
    if (!o || !created || !put(a, o, "_id", pg_new_string(a, id, strlen(id)))
        || (revision > 0 && !put(a, o, "revision", revision_value(a, revision)))
        || !put(a, o, "type", pg_new_string_ref(a, type, strlen(type)))
        || !put(a, o, "sortOrder", pg_new_number(a, sort))
        || !put(a, o, "_createdDate", created)
        || !put(a, o, "_updatedDate", updated_ms == created_ms ? created : date(a, updated_ms)))
        return NULL;
    for (i = 0; i < n; i++)
        o->u.obj.m[o->u.obj.n++] = doc->u.obj.m[i];
    return o;
}

/* A quoted text of the store's own making (a UUID, a type, digits, a date): nothing in it
 * needs an escape. */
static void add_quoted(pg_strbuf *b, const char *key, size_t keylen, const char *s)
{
    pg_strbuf_add(b, key, keylen);
    pg_strbuf_addc(b, '"');
    pg_strbuf_add(b, s, strlen(s));
    pg_strbuf_addc(b, '"');
}

#define HEAD_MAX 320 /* the longest head: every part at its longest (a date that is not one) */

/* The same columns as JSON text, in REST's names and pg_item_out's order: what the REST shape
 * and the encoder make of them ({"id":...,"updatedDate":"..."}). A REST list splices it
 * before the stored text of each item instead of building, shaping and encoding a tree
 * (rest_spec checks a listed item against the item's own GET, which takes the tree).
 * NULL when out of memory. A sortOrder that is not finite has no such text (the shape
 * writes it as a string): the caller takes the tree. */
pg_value *pg_item_rest_head(pg_arena *a, const char *id, const char *type, double sort,
                            int64_t created_ms, int64_t updated_ms, int64_t revision)
{
    char date[48], *mem = pg_arena_alloc(a, HEAD_MAX);
    pg_strbuf b;
    pg_value *v;
    if (!mem)
        return NULL;
    pg_strbuf_init(&b, mem, HEAD_MAX);
    add_quoted(&b, "{\"id\":", 6, id);
    if (revision > 0) {
        char rev[PG_REVISION_TEXT];
        pg_revision_text(revision, rev);
        add_quoted(&b, ",\"revision\":", 12, rev);
    }
    add_quoted(&b, ",\"type\":", 8, type);
    pg_strbuf_add(&b, ",\"sortOrder\":", 13);
    pg_json_write_number(&b, sort);
    pg_iso8601(created_ms, date);
    add_quoted(&b, ",\"createdDate\":", 15, date);
    if (updated_ms != created_ms)
        pg_iso8601(updated_ms, date);
    add_quoted(&b, ",\"updatedDate\":", 15, date);
    pg_strbuf_addc(&b, '}');
    /* it fits (HEAD_MAX): b never left the arena's memory */
    v = b.heap || b.oom ? NULL : pg_new_string_ref(a, b.buf, b.len);
    pg_strbuf_free(&b);
    if (v)
        v->type = PG_RAW;
    return v;
}

pg_value *pg_gallery_out(pg_arena *a, const char *id, const char *name, size_t namelen,
                         double sort, int64_t created_ms, int64_t updated_ms,
                         int64_t total_items, int64_t revision, pg_value *items)
{
    pg_value *o = pg_new_object(a, 8);
    if (!o || !put(a, o, "_id", pg_new_string(a, id, strlen(id)))
        || (revision > 0 && !put(a, o, "revision", revision_value(a, revision)))
        || (name && !put(a, o, "name", pg_new_string(a, name, namelen)))
        || !put(a, o, "sortOrder", pg_new_number(a, sort))
        || !put(a, o, "totalItems", pg_new_number(a, (double)total_items))
        || !put(a, o, "items", items ? items : pg_new_array(a, 0))
        || !put(a, o, "_createdDate", date(a, created_ms))
        || !put(a, o, "_updatedDate", date(a, updated_ms)))
        return NULL;
    return o;
}
