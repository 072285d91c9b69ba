#include "rest.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "media.h"
#include "model.h"

#define MAX_DEPTH 32 /* deeper than any gallery shape */

/* ---- shapes ------------------------------------------------------------------ */

typedef struct {
    pg_arena *a;
    const pg_shape *how;
    pg_path *path;
    pg_status *st;
} walk;

static int key_is(const char *key, size_t len, const char *k)
{
    return key && len == strlen(k) && memcmp(key, k, len) == 0;
}

/* A member's key against a literal, its length known at compile time: this runs for
 * every member of every result on the REST path. */
#define MEMBER_IS(m, lit) \
    ((m)->key && (m)->keylen == sizeof(lit) - 1 && memcmp((m)->key, lit, sizeof(lit) - 1) == 0)

static const char *const VELO_NAMES[] = { "_id", "_createdDate", "_updatedDate" };
static const char *const REST_NAMES[] = { "id", "createdDate", "updatedDate" };
static const size_t VELO_LENS[] = { 3, 12, 12 }, REST_LENS[] = { 2, 11, 11 };
#define NNAMES 3

static int opaque(const pg_member *m)
{
    return MEMBER_IS(m, "exif") || MEMBER_IS(m, "css")
           || MEMBER_IS(m, "wixLinkData");
}

static int float_field(const char *parent, size_t plen, const pg_member *m)
{
    if (MEMBER_IS(m, "sortOrder"))
        return 1;
    if (key_is(parent, plen, "focalPoint"))
        return MEMBER_IS(m, "x") || MEMBER_IS(m, "y");
    if (key_is(parent, plen, "unsharpMasking"))
        return MEMBER_IS(m, "amount") || MEMBER_IS(m, "radius")
               || MEMBER_IS(m, "threshold");
    return 0;
}

static int fail(walk *w, const char *fmt, const char *arg)
{
    return pg_fail_at(w->st, PG_INVALID_ARGUMENT, w->path, fmt, arg);
}

static int oom(walk *w) { return pg_fail(w->st, PG_INTERNAL, "out of memory"); }

static pg_value *float_of_string(pg_arena *a, const pg_value *v)
{
    static const char *const names[] = { "NaN", "Infinity", "-Infinity" };
    const double values[] = { NAN, HUGE_VAL, -HUGE_VAL };
    int i;
    for (i = 0; i < 3; i++)
        if (key_is(v->u.str.s, v->u.str.len, names[i]))
            return pg_new_number(a, values[i]);
    return NULL;
}

static pg_value *string_of_float(pg_arena *a, double n)
{
    const char *s = isnan(n) ? "NaN" : n > 0 ? "Infinity" : "-Infinity";
    return pg_new_string_ref(a, s, strlen(s));
}

/* imageInfo / videoInfo in the form asked for. */
static int media(walk *w, pg_member *m, pg_media_kind k)
{
    pg_value *v = m->val, *out;
    if (v->type == PG_NULL || w->how->media == PG_MEDIA_KEEP)
        return 1;
    if (v->type != PG_STRING && v->type != PG_OBJECT)
        return fail(w, "expected a string or a table, got %s", pg_type_name(v));
    if (w->how->media == PG_MEDIA_OBJECTS) {
        const char *why;
        if (v->type == PG_OBJECT) /* an object already: checked unless it is the store's */
            return w->how->trusted || (m->val = pg_media_value(w->a, k, v, w->path, w->st)) != NULL;
        if (!(out = pg_media_parse(w->a, k, v->u.str.s, v->u.str.len, &why)))
            return pg_media_refuse(w->st, w->path, why);
    } else {
        if (v->type == PG_STRING)
            return 1; /* the Velo form already */
        if (!w->how->trusted && !(v = pg_media_value(w->a, k, v, w->path, w->st)))
            return 0;
        if (!(out = pg_media_string(w->a, k, v)))
            return oom(w);
    }
    m->val = out;
    return 1;
}

static int shape(walk *w, pg_value *v, const char *parent, size_t plen, int in_opaque, int depth);

/* A member the walk would leave as it is (a text, boolean, null or finite number that is
 * no media field nor a float field to read back): skipped without the path push and the
 * call, since most of a result's members are such leaves. */
static int unchanged_leaf(const walk *w, const pg_member *m, int in_opaque)
{
    const pg_value *v = m->val;
    if (!in_opaque && (MEMBER_IS(m, "imageInfo") || MEMBER_IS(m, "videoInfo")))
        return 0;
    switch (v->type) {
    case PG_BOOL:
    case PG_NULL: return 1;
    case PG_STRING: return in_opaque || w->how->floats >= 0 || !float_field(NULL, 0, m);
    case PG_NUMBER: return w->how->floats <= 0 || isfinite(v->u.n);
    default: return 0;
    }
}

static int shape_object(walk *w, pg_value *v, int in_opaque, int depth)
{
    const char *const *from = w->how->names == PG_NAMES_TO_REST ? VELO_NAMES : REST_NAMES;
    const char *const *to = w->how->names == PG_NAMES_TO_REST ? REST_NAMES : VELO_NAMES;
    const size_t *from_len = w->how->names == PG_NAMES_TO_REST ? VELO_LENS : REST_LENS;
    const size_t *to_len = w->how->names == PG_NAMES_TO_REST ? REST_LENS : VELO_LENS;
    int renamed_to[NNAMES] = { 0, 0, 0 }, any = 0;
    size_t i, j, n;
    unsigned char *was_renamed = NULL;
    if (!in_opaque && w->how->names != PG_NAMES_KEEP) {
        for (i = 0; i < v->u.obj.n; i++) {
            pg_member *m = &v->u.obj.m[i];
            for (j = 0; j < NNAMES; j++) {
                if (m->key && m->keylen == from_len[j] && memcmp(m->key, from[j], from_len[j]) == 0) {
                    if (!was_renamed && !(was_renamed = pg_arena_alloc(w->a, v->u.obj.n)))
                        return oom(w);
                    if (!any)
                        memset(was_renamed, 0, v->u.obj.n);
                    m->key = to[j];
                    m->keylen = to_len[j];
                    renamed_to[j] = any = 1;
                    was_renamed[i] = 1;
                    break;
                }
            }
        }
        /* A renamed key wins over one already spelled the target way (a body with
         * both id and _id), whatever the order of the members. */
        for (i = 0, n = 0; any && i < v->u.obj.n; i++) {
            pg_member *m = &v->u.obj.m[i];
            int drop = 0;
            for (j = 0; j < NNAMES && !was_renamed[i]; j++)
                drop |= renamed_to[j] && m->keylen == to_len[j] && memcmp(m->key, to[j], to_len[j]) == 0;
            if (!drop)
                v->u.obj.m[n++] = *m;
        }
        if (any)
            v->u.obj.n = n;
    }
    for (i = 0; i < v->u.obj.n; i++) {
        pg_member *m = &v->u.obj.m[i];
        size_t old;
        int ok = 1;
        if (!m->key)
            continue; /* a stored document's text: the stored form is the REST form */
        if (unchanged_leaf(w, m, in_opaque))
            continue;
        old = pg_path_key(w->path, m->key, m->keylen);
        if (!in_opaque && MEMBER_IS(m, "imageInfo"))
            ok = media(w, m, PG_IMAGE);
        else if (!in_opaque && MEMBER_IS(m, "videoInfo"))
            ok = media(w, m, PG_VIDEO);
        else if (!in_opaque && w->how->floats < 0 && m->val->type == PG_STRING
                 && float_field(NULL, 0, m)) {
            /* sortOrder at any level; the nested float fields below */
            pg_value *f = float_of_string(w->a, m->val);
            if (f)
                m->val = f;
        } else
            ok = shape(w, m->val, m->key, m->keylen, in_opaque || opaque(m), depth + 1);
        if (!ok)
            return 0;
        pg_path_pop(w->path, old);
    }
    return 1;
}

static int shape(walk *w, pg_value *v, const char *parent, size_t plen, int in_opaque, int depth)
{
    size_t i;
    if (depth > MAX_DEPTH)
        return fail(w, "%s", "nested too deeply");
    switch (v->type) {
    case PG_INVALID: return fail(w, "unsupported value: %s", v->u.str.s);
    case PG_NUMBER:
        if (w->how->floats > 0 && !isfinite(v->u.n)) {
            pg_value *s = string_of_float(w->a, v->u.n);
            if (!s)
                return oom(w);
            *v = *s;
        }
        return 1;
    case PG_ARRAY:
        for (i = 0; i < v->u.arr.n; i++) {
            size_t old = pg_path_index(w->path, i + 1);
            if (!shape(w, v->u.arr.v[i], parent, plen, in_opaque, depth + 1))
                return 0;
            pg_path_pop(w->path, old);
        }
        return 1;
    case PG_OBJECT:
        if (!in_opaque && w->how->floats < 0) {
            for (i = 0; i < v->u.obj.n; i++) {
                pg_member *m = &v->u.obj.m[i];
                pg_value *f;
                if (m->key && m->val->type == PG_STRING && float_field(parent, plen, m)
                    && (f = float_of_string(w->a, m->val)))
                    m->val = f;
            }
        }
        return shape_object(w, v, in_opaque, depth);
    default: return 1;
    }
}

int pg_rest_shape(pg_arena *a, pg_value *v, const pg_shape *how, pg_path *path, pg_status *st)
{
    walk w = { a, how, path, st };
    return shape(&w, v, NULL, 0, 0, 0);
}

int pg_velo_result(pg_arena *a, pg_value *result, pg_status *st)
{
    static const pg_shape velo = { PG_NAMES_KEEP, PG_MEDIA_STRINGS, 0, 1 };
    pg_path path;
    walk w = { a, &velo, &path, st };
    pg_path_init(&path, "");
    return shape(&w, result, NULL, 0, 0, 0);
}

/* ---- calls ------------------------------------------------------------------- */

typedef enum {
    A_OPTIONS,      /* (options) */
    A_GALLERY_OPTS, /* (galleryId, options) */
    A_IDS,          /* ({galleryId, itemId}) */
    A_GALLERY,      /* (galleryId) */
    A_CREATE,       /* ({gallery?, cloneFromGalleryId?}) from the body */
    A_GALLERY_BODY, /* (galleryId, body.<entity>) */
    A_IDS_BODY,     /* ({galleryId, itemId}, body.<entity>) */
    A_BODY,         /* (body.<entity>) */
    A_MOVE,         /* (galleryId, body.itemIds, {before?, after?, toGalleryId?} from the body) */
} arg_form;

/* What becomes of the result before it is written. */
typedef enum {
    R_SHAPE,    /* the REST shape (and the envelope of a single result) */
    R_FEED,     /* {events = [domain events], lastSeq}: GET {prefix}/events (10.5) */
    R_WEBHOOKS, /* {events = [{seq, eventType, identity = JSON text, data = JSON text}], lastSeq}:
                   what the webhook deliverer signs, each event's text written once, here */
} result_form;

typedef struct {
    const char *name;
    const char *api;        /* the API function it calls */
    arg_form form;
    const char *entity;     /* the body's gallery or item member */
    int entity_required;
    const char *wrap;       /* the response envelope of a single result */
    const char *body_keys[6];
    result_form result;
} rest_op;

static const rest_op OPS[] = {
    { "listGalleries", "listGalleries", A_OPTIONS, NULL, 0, NULL, { NULL }, R_SHAPE },
    { "getGallery", "getGallery", A_GALLERY_OPTS, NULL, 0, "gallery", { NULL }, R_SHAPE },
    { "listGalleryItems", "listGalleryItems", A_GALLERY_OPTS, NULL, 0, NULL, { NULL }, R_SHAPE },
    { "getGalleryItem", "getGalleryItem", A_IDS, NULL, 0, "item", { NULL }, R_SHAPE },
    { "deleteGallery", "deleteGallery", A_GALLERY, NULL, 0, NULL, { NULL }, R_SHAPE },
    { "deleteGalleryItem", "deleteGalleryItem", A_IDS, NULL, 0, NULL, { NULL }, R_SHAPE },
    { "createGallery", "createGallery", A_CREATE, "gallery", 0, "gallery",
      { "gallery", "cloneFromGalleryId", NULL }, R_SHAPE },
    { "updateGallery", "updateGallery", A_GALLERY_BODY, "gallery", 1, "gallery",
      { "gallery", "galleryId", NULL }, R_SHAPE },
    { "createGalleryItem", "createGalleryItem", A_GALLERY_BODY, "item", 1, "item",
      { "item", "galleryId", NULL }, R_SHAPE },
    { "updateGalleryItem", "updateGalleryItem", A_IDS_BODY, "item", 1, "item",
      { "item", "galleryId", "itemId", NULL }, R_SHAPE },
    { "bulkDeleteGalleryItems", "bulkDeleteGalleryItems", A_GALLERY_BODY, "itemIds", 1, NULL,
      { "itemIds", "galleryId", NULL }, R_SHAPE },
    { "moveGalleryItems", "moveGalleryItems", A_MOVE, "itemIds", 1, NULL,
      { "itemIds", "before", "after", "toGalleryId", "galleryId", NULL }, R_SHAPE },
    /* progallery import: the items of an export line, in their REST form, as text */
    { "restoreItems", "_restoreItems", A_GALLERY_BODY, "items", 1, NULL, { "items", "galleryId", NULL },
      R_SHAPE },
    /* a query is a POST that reads (spec section 14): body { query } */
    { "queryGalleries", "queryGalleries", A_BODY, "query", 0, NULL, { "query", NULL }, R_SHAPE },
    { "queryGalleryItems", "queryGalleryItems", A_GALLERY_BODY, "query", 0, NULL,
      { "query", "galleryId", NULL }, R_SHAPE },
    { "events", "events", A_OPTIONS, NULL, 0, NULL, { NULL }, R_FEED },
    { "webhookEvents", "events", A_OPTIONS, NULL, 0, NULL, { NULL }, R_WEBHOOKS },
};
#define NOPS (sizeof OPS / sizeof OPS[0])

static const rest_op *find_op(const char *name, size_t len)
{
    size_t i;
    for (i = 0; i < NOPS; i++)
        if (key_is(name, len, OPS[i].name))
            return &OPS[i];
    return NULL;
}

const pg_api_entry *pg_rest_entry(const char *op, size_t oplen)
{
    const rest_op *o = find_op(op, oplen);
    int i;
    for (i = 0; o && i < pg_api_count; i++)
        if (strcmp(pg_api[i].name, o->api) == 0)
            return &pg_api[i];
    for (i = 0; o && i < pg_feed_api_count; i++)
        if (strcmp(pg_feed_api[i].name, o->api) == 0)
            return &pg_feed_api[i];
    return NULL;
}

static int absent(const pg_value *v) { return !v || v->type == PG_NULL; }

static int same_text_nocase(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t i;
    if (alen != blen)
        return 0;
    for (i = 0; i < alen; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return 0;
    }
    return 1;
}

/* An id repeated in the body must agree with the path. */
static int same_id(const char *name, const pg_value *copy, const char *truth, size_t len,
                   pg_status *st)
{
    if (absent(copy) || !truth)
        return 1;
    if (copy->type != PG_STRING || !same_text_nocase(copy->u.str.s, copy->u.str.len, truth, len)) {
        pg_fail(st, PG_INVALID_ARGUMENT, "%s: does not match the path", name);
        st->fieldlen = strlen(name);
        return 0;
    }
    return 1;
}

static int body_fail(pg_status *st, const char *msg)
{
    pg_fail(st, PG_INVALID_ARGUMENT, "body: %s", msg);
    st->fieldlen = 4;
    return 0;
}

/* "body: key "k" given twice in one object", the key escaped as every name in a message
 * is, and cut (at a character's end) when long. */
static int duplicate_fail(pg_status *st, const pg_member *m)
{
    char name[96], e[PG_ESCAPE_MAX];
    size_t i = 0, n = 0, used, k;
    while (i < m->keylen && n + PG_ESCAPE_MAX + 4 < sizeof name) {
        k = pg_escape_char(m->key + i, m->keylen - i, e, &used);
        memcpy(name + n, e, k);
        n += k;
        i += used;
    }
    if (i < m->keylen)
        name[n++] = '.', name[n++] = '.', name[n++] = '.';
    name[n] = '\0';
    pg_fail(st, PG_INVALID_ARGUMENT, "body: key \"%s\" given twice in one object", name);
    st->fieldlen = 4;
    return 0;
}

static pg_value *read_body(pg_arena *a, const rest_op *op, const pg_rest_request *req,
                           pg_status *st)
{
    const char *s = req->body, *end = s ? s + req->bodylen : NULL, *err = NULL;
    const pg_member *dup = NULL;
    pg_value *body;
    size_t i, k;
    while (s && s < end && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
        s++;
    if (!s || s == end)
        body = pg_new_object(a, 0);
    else if (*s != '{')
        return body_fail(st, "expected a JSON object"), NULL;
    else if (!(body = pg_json_decode_input(a, s, (size_t)(end - s), &err, &dup)))
        return dup ? duplicate_fail(st, dup)
               : err ? body_fail(st, "malformed JSON") : pg_fail(st, PG_INTERNAL, "out of memory"),
               NULL;
    if (!body)
        return pg_fail(st, PG_INTERNAL, "out of memory"), NULL;
    for (i = 0; i < body->u.obj.n; i++) {
        const pg_member *m = &body->u.obj.m[i];
        int known = 0;
        for (k = 0; op->body_keys[k] && !known; k++)
            known = key_is(m->key, m->keylen, op->body_keys[k]);
        if (!known)
            return pg_fail_name(st, PG_INVALID_ARGUMENT, m->key, m->keylen, "unknown field"), NULL;
    }
    if (!same_id("galleryId", pg_obj_get(body, "galleryId"), req->gallery_id, req->gallery_id_len, st)
        || !same_id("itemId", pg_obj_get(body, "itemId"), req->item_id, req->item_id_len, st))
        return NULL;
    return body;
}

/* body.gallery / body.item in the Velo names, or NULL (absent, or *st set). */
static pg_value *entity(pg_arena *a, const rest_op *op, const pg_rest_request *req, pg_value *body,
                        int *ok, pg_status *st)
{
    static const pg_shape from_rest = { PG_NAMES_FROM_REST, PG_MEDIA_KEEP, -1, 0 };
    pg_value *v = pg_obj_get(body, op->entity);
    pg_path path;
    *ok = 0;
    if (absent(v)) {
        if (op->entity_required) {
            pg_fail(st, PG_INVALID_ARGUMENT, "%s: required", op->entity);
            st->fieldlen = strlen(op->entity);
            return NULL;
        }
        *ok = 1;
        return NULL;
    }
    if (strcmp(op->entity, "itemIds") == 0 || strcmp(op->entity, "query") == 0) {
        /* ids, or a query: its field names and values are the query's (query.c), not an
         * entity's to reshape */
        *ok = 1;
        return v;
    }
    if (v->type != PG_OBJECT && !(v->type == PG_ARRAY && strcmp(op->entity, "items") == 0)) {
        pg_fail(st, PG_INVALID_ARGUMENT, "%s: expected an object", op->entity);
        st->fieldlen = strlen(op->entity);
        return NULL;
    }
    if (op->form != A_CREATE && strcmp(op->name, "createGalleryItem") != 0) {
        char name[16];
        const char *truth = op->form == A_IDS_BODY ? req->item_id : req->gallery_id;
        size_t len = op->form == A_IDS_BODY ? req->item_id_len : req->gallery_id_len;
        strcpy(name, op->entity);
        strcat(name, ".id");
        if (!same_id(name, pg_obj_get(v, "id"), truth, len, st))
            return NULL;
    }
    pg_path_init(&path, op->entity);
    path.zero_based = 1;
    if (!pg_rest_shape(a, v, &from_rest, &path, st))
        return NULL;
    *ok = 1;
    return v;
}

static pg_value *id_value(pg_arena *a, const char *s, size_t n)
{
    return s ? pg_new_string_ref(a, s, n) : NULL;
}

static pg_value *identifiers(pg_arena *a, const pg_rest_request *req)
{
    pg_value *o = pg_new_object(a, 2);
    if (o && ((req->gallery_id && !pg_obj_add(a, o, "galleryId", id_value(a, req->gallery_id, req->gallery_id_len)))
              || (req->item_id && !pg_obj_add(a, o, "itemId", id_value(a, req->item_id, req->item_id_len)))))
        return NULL;
    return o;
}

/* ---- the feed in REST shape (10.5) ------------------------------------------------- */

static int copy_member(pg_arena *a, pg_value *to, const pg_value *from, const char *key,
                       const char *as)
{
    pg_value *v = pg_obj_get(from, key);
    return !v || pg_obj_add(a, to, as ? as : key, v);
}

/* An envelope of 10.2 (its entity and data in the stored form) -> the REST-shaped domain
 * event: { id, entityFqdn, slug, entityId, eventTime, triggeredByAnonymizeRequest,
 * entityEventSequence, originatedFrom?, createdEvent = { entity } | updatedEvent =
 * { currentEntity } | deletedEvent = {} | actionEvent = { body } }. */
static pg_value *domain_event(pg_arena *a, const pg_value *env, pg_status *st)
{
    static const pg_shape to_rest = { PG_NAMES_TO_REST, PG_MEDIA_OBJECTS, 1, 1 };
    static const char *const keys[] = { "entityFqdn", "slug", "entityId", "eventTime",
                                        "triggeredByAnonymizeRequest", "entityEventSequence",
                                        "originatedFrom" };
    const pg_value *m = pg_obj_get(env, "metadata"), *slug;
    pg_value *ev = pg_new_object(a, 10), *entity = pg_obj_get(env, "entity");
    pg_value *data = pg_obj_get(env, "data"), *wrap;
    pg_path path;
    size_t i;
    if (!ev || !m || !copy_member(a, ev, m, "_id", "id"))
        return pg_fail(st, PG_INTERNAL, "out of memory"), NULL;
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!copy_member(a, ev, m, keys[i], NULL))
            return pg_fail(st, PG_INTERNAL, "out of memory"), NULL;
    slug = pg_obj_get(m, "slug");
    pg_path_init(&path, "event");
    if (!(wrap = pg_new_object(a, 1)))
        return pg_fail(st, PG_INTERNAL, "out of memory"), NULL;
    if (entity) {
        int created = slug && key_is(slug->u.str.s, slug->u.str.len, "created");
        if (!pg_rest_shape(a, entity, &to_rest, &path, st))
            return NULL;
        if (!pg_obj_add(a, wrap, created ? "entity" : "currentEntity", entity)
            || !pg_obj_add(a, ev, created ? "createdEvent" : "updatedEvent", wrap))
            return pg_fail(st, PG_INTERNAL, "out of memory"), NULL;
    } else if (data) {
        if (!pg_rest_shape(a, data, &to_rest, &path, st))
            return NULL;
        if (!pg_obj_add(a, wrap, "body", data) || !pg_obj_add(a, ev, "actionEvent", wrap))
            return pg_fail(st, PG_INTERNAL, "out of memory"), NULL;
    } else if (!pg_obj_add(a, ev, "deletedEvent", wrap)) {
        return pg_fail(st, PG_INTERNAL, "out of memory"), NULL;
    }
    return ev;
}

static pg_value *json_text(pg_arena *a, const pg_value *v)
{
    size_t len;
    char *s = pg_json_encode(a, v, &len);
    return s ? pg_new_string_ref(a, s, len) : NULL;
}

static int feed_page(pg_arena *a, pg_value *page, int webhooks, pg_strbuf *out, pg_status *st)
{
    pg_value *list = pg_obj_get(page, "events");
    size_t i;
    for (i = 0; list && i < list->u.arr.n; i++) {
        pg_value *env = list->u.arr.v[i], *m = pg_obj_get(env, "metadata");
        pg_value *ev = domain_event(a, env, st);
        if (!ev)
            return 0;
        if (webhooks) {
            pg_value *w = pg_new_object(a, 4), *identity = json_text(a, pg_obj_get(m, "identity"));
            pg_value *text = json_text(a, ev);
            if (!w || !identity || !text || !copy_member(a, w, m, "seq", NULL)
                || !copy_member(a, w, m, "eventType", NULL) || !pg_obj_add(a, w, "identity", identity)
                || !pg_obj_add(a, w, "data", text))
                return pg_fail(st, PG_INTERNAL, "out of memory");
            ev = w;
        }
        list->u.arr.v[i] = ev;
    }
    pg_strbuf_reset(out, 1 << 20);
    if (!pg_json_write(out, page))
        return pg_fail(st, PG_INTERNAL, "out of memory");
    return 1;
}

/* ---- If-Match and ETag (spec section 14) --------------------------------------------- */

static int if_match_fail(pg_status *st, const char *msg)
{
    pg_fail(st, PG_INVALID_ARGUMENT, "If-Match: %s", msg);
    st->fieldlen = 8;
    return 0;
}

/* The If-Match header -> *rev (the revision text, digits) or NULL for none / `*`. */
static int if_match(pg_arena *a, const pg_rest_request *req, pg_value **rev, pg_status *st)
{
    const char *s = req->if_match, *end = s ? s + req->if_match_len : NULL;
    pg_value text;
    pg_path path;
    int64_t n;
    *rev = NULL;
    if (!s)
        return 1;
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (end - s == 1 && *s == '*')
        return 1;
    if (end - s < 2 || *s != '"' || end[-1] != '"' || memchr(s + 1, '"', (size_t)(end - s - 2)))
        return if_match_fail(st, "expected * or one strong entity tag (\"<revision>\")");
    text.type = PG_STRING;
    text.u.str.s = s + 1;
    text.u.str.len = (size_t)(end - s - 2);
    pg_path_init(&path, "If-Match");
    if (!pg_revision_arg(&text, &path, &n, st)) {
        st->fieldlen = 8;
        return 0;
    }
    if (!(*rev = pg_new_string(a, text.u.str.s, text.u.str.len)))
        return pg_fail(st, PG_INTERNAL, "out of memory");
    return 1;
}

/* The If-Match revision joins the call as the revision the caller last saw: in the entity
 * of an update (a body that gives one too must agree with it), as options of a delete. */
static int add_if_match(pg_arena *a, const rest_op *op, pg_value *rev, pg_value **args,
                        pg_status *st)
{
    pg_value *target, *given;
    int64_t x, y;
    pg_path path;
    pg_status ignored;
    if (op->form != A_GALLERY_BODY && op->form != A_IDS_BODY) /* a delete */
        args[1] = pg_new_object(a, 1);
    if (!(target = args[1]))
        return pg_fail(st, PG_INTERNAL, "out of memory");
    given = pg_obj_get(target, "revision");
    if (absent(given))
        return pg_obj_add(a, target, "revision", rev) ? 1 : pg_fail(st, PG_INTERNAL, "out of memory");
    pg_path_init(&path, "");
    /* a malformed body revision is the call's to report, naming its field */
    if (pg_revision_arg(given, &path, &x, &ignored) && pg_revision_arg(rev, &path, &y, &ignored)
        && x != y) {
        pg_fail(st, PG_ABORTED, "If-Match: \"%lld\" and %s.revision \"%lld\" disagree (at most one"
                " is current)", (long long)y, op->entity, (long long)x);
        st->fieldlen = 8;
        return 0;
    }
    return 1;
}

/* A stale revision that came from If-Match is named so. */
static void abort_names_if_match(pg_status *st)
{
    char rest[sizeof st->msg];
    if (st->code != PG_ABORTED || !st->fieldlen)
        return;
    snprintf(rest, sizeof rest, "%s", st->msg + st->fieldlen + 2);
    pg_fail(st, PG_ABORTED, "If-Match: %s", rest);
    st->fieldlen = 8;
}

/* The revision of a single gallery or item result (the store wrote it: digits). */
static int64_t result_revision(const pg_value *result)
{
    const pg_value *v = pg_obj_get(result, "revision");
    int64_t n = 0;
    size_t i;
    if (!v || v->type != PG_STRING)
        return 0;
    for (i = 0; i < v->u.str.len; i++)
        n = n * 10 + (v->u.str.s[i] - '0');
    return n;
}

static int takes_if_match(const rest_op *op)
{
    return strcmp(op->api, "updateGallery") == 0 || strcmp(op->api, "updateGalleryItem") == 0
           || strcmp(op->api, "deleteGallery") == 0 || strcmp(op->api, "deleteGalleryItem") == 0;
}

int pg_rest_call(pg_db *db, const pg_rest_request *req, pg_strbuf *out, int64_t *revision,
                 pg_status *st)
{
    static const pg_shape to_rest = { PG_NAMES_TO_REST, PG_MEDIA_OBJECTS, 1, 1 };
    pg_arena *a = pg_db_arena(db);
    const rest_op *op = find_op(req->op, req->oplen);
    const pg_api_entry *e = pg_rest_entry(req->op, req->oplen);
    pg_value *args[4] = { NULL, NULL, NULL, NULL }, *body = NULL, *ent = NULL, *result, *rev = NULL;
    pg_path path;
    int ok = 1;
    *revision = 0;
    if (!op || !e)
        return pg_fail(st, PG_NOT_FOUND, "no such route");
    if (takes_if_match(op) && !if_match(a, req, &rev, st))
        return 0;
    if (op->body_keys[0]) {
        if (!(body = read_body(a, op, req, st)))
            return 0;
        ent = entity(a, op, req, body, &ok, st);
        if (!ok)
            return 0;
    }
    switch (op->form) {
    case A_OPTIONS: args[0] = req->options; break;
    case A_GALLERY_OPTS:
        args[0] = id_value(a, req->gallery_id, req->gallery_id_len);
        args[1] = req->options;
        break;
    case A_IDS: args[0] = identifiers(a, req); ok = args[0] != NULL; break;
    case A_GALLERY: args[0] = id_value(a, req->gallery_id, req->gallery_id_len); break;
    case A_CREATE: {
        pg_value *clone = pg_obj_get(body, "cloneFromGalleryId");
        args[0] = pg_new_object(a, 2);
        ok = args[0] && (!ent || pg_obj_add(a, args[0], "gallery", ent))
             && (absent(clone) || pg_obj_add(a, args[0], "cloneFromGalleryId", clone));
        break;
    }
    case A_GALLERY_BODY:
        args[0] = id_value(a, req->gallery_id, req->gallery_id_len);
        args[1] = ent;
        break;
    case A_IDS_BODY:
        args[0] = identifiers(a, req);
        args[1] = ent;
        ok = args[0] != NULL;
        break;
    case A_BODY: args[0] = ent; break;
    case A_MOVE: {
        static const char *const opts[] = { "before", "after", "toGalleryId" };
        size_t i;
        args[0] = id_value(a, req->gallery_id, req->gallery_id_len);
        args[1] = ent;
        ok = (args[2] = pg_new_object(a, 3)) != NULL;
        for (i = 0; ok && i < 3; i++) {
            pg_value *v = pg_obj_get(body, opts[i]);
            ok = absent(v) || pg_obj_add(a, args[2], opts[i], v);
        }
        break;
    }
    }
    if (!ok)
        return pg_fail(st, PG_INTERNAL, "out of memory");
    if (rev && !add_if_match(a, op, rev, args, st))
        return 0;
    pg_db_rest_mode(db, 1);
    result = e->fn(db, args, st);
    pg_db_rest_mode(db, 0);
    if (!result) {
        /* the body's revision is checked first (it is the entity's), so a stale one
         * names the If-Match only when the body gave none */
        if (rev && pg_obj_get(args[1], "revision") == rev)
            abort_names_if_match(st);
        return 0;
    }
    pg_path_init(&path, "result");
    if (op->result != R_SHAPE)
        return feed_page(a, result, op->result == R_WEBHOOKS, out, st);
    if (!pg_rest_shape(a, result, &to_rest, &path, st))
        return 0;
    if (op->wrap) {
        pg_value *w = pg_new_object(a, 1);
        *revision = result_revision(result);
        if (!w || !pg_obj_add(a, w, op->wrap, result))
            return pg_fail(st, PG_INTERNAL, "out of memory");
        result = w;
    }
    pg_strbuf_reset(out, 1 << 20);
    if (!pg_json_write(out, result))
        return pg_fail(st, PG_INTERNAL, "out of memory");
    return 1;
}
