#include "query.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ids.h"
#include "json.h"
#include "sign.h"
#include "utf8.h"

typedef enum { V_STR, V_NUM, V_DATE, V_TYPE /* an item type's name */ } value_kind;

enum {
    O_EQ = 1 << PG_QOP_EQ, O_NE = 1 << PG_QOP_NE, O_IN = 1 << PG_QOP_IN,
    O_STARTS = 1 << PG_QOP_STARTS, O_HAS = (1 << PG_QOP_HAS_SOME) | (1 << PG_QOP_HAS_ALL),
    O_RANGE = (1 << PG_QOP_GT) | (1 << PG_QOP_GTE) | (1 << PG_QOP_LT) | (1 << PG_QOP_LTE)
};
#define T_ITEMS (1 << PG_Q_ITEMS)
#define T_GALLERIES (1 << PG_Q_GALLERIES)

/* The fields a filter or a sort may name. The REST names (createdDate) are the
 * same fields as the Velo ones (_createdDate): a REST body spells them so. */
static const struct {
    const char *name;
    pg_query_field field;
    int targets;
    unsigned ops;
    value_kind kind;
    int sortable;
} FIELDS[] = {
    { "type", PG_QF_TYPE, T_ITEMS, O_EQ | O_NE | O_IN, V_TYPE, 0 },
    { "title", PG_QF_TITLE, T_ITEMS, O_EQ | O_NE | O_IN | O_STARTS, V_STR, 0 },
    { "tags.values", PG_QF_TAGS, T_ITEMS, O_HAS, V_STR, 0 },
    { "_createdDate", PG_QF_CREATED, T_ITEMS | T_GALLERIES, O_EQ | O_NE | O_IN | O_RANGE, V_DATE, 1 },
    { "createdDate", PG_QF_CREATED, T_ITEMS | T_GALLERIES, O_EQ | O_NE | O_IN | O_RANGE, V_DATE, 1 },
    { "_updatedDate", PG_QF_UPDATED, T_ITEMS, O_EQ | O_NE | O_IN | O_RANGE, V_DATE, 1 },
    { "updatedDate", PG_QF_UPDATED, T_ITEMS, O_EQ | O_NE | O_IN | O_RANGE, V_DATE, 1 },
    { "sortOrder", PG_QF_SORT, T_ITEMS, O_EQ | O_NE | O_IN | O_RANGE, V_NUM, 1 },
    { "name", PG_QF_NAME, T_GALLERIES, O_EQ | O_NE | O_IN | O_STARTS, V_STR, 1 },
};
#define NFIELDS (sizeof FIELDS / sizeof FIELDS[0])

static const struct {
    const char *name;
    pg_query_op op;
} OPS[] = {
    { "$eq", PG_QOP_EQ }, { "$ne", PG_QOP_NE }, { "$in", PG_QOP_IN },
    { "$startsWith", PG_QOP_STARTS }, { "$hasSome", PG_QOP_HAS_SOME },
    { "$hasAll", PG_QOP_HAS_ALL }, { "$gt", PG_QOP_GT }, { "$gte", PG_QOP_GTE },
    { "$lt", PG_QOP_LT }, { "$lte", PG_QOP_LTE },
};
#define NOPS (sizeof OPS / sizeof OPS[0])

typedef struct {
    pg_arena *a;
    pg_path *path;
    pg_status *st;
    pg_query_target target;
    size_t terms, text;
} ctx;

static int is(const pg_member *m, const char *key)
{
    size_t n = strlen(key);
    return m->keylen == n && memcmp(m->key, key, n) == 0;
}

static int absent(const pg_value *v) { return !v || v->type == PG_NULL; }

/* An object, or an empty table (Lua cannot tell {} from an empty array). */
static int is_object(const pg_value *v)
{
    return v && (v->type == PG_OBJECT || (v->type == PG_ARRAY && v->u.arr.n == 0));
}

static int is_list(const pg_value *v)
{
    return v && (v->type == PG_ARRAY || (v->type == PG_OBJECT && v->u.obj.n == 0));
}

static size_t list_len(const pg_value *v) { return v->type == PG_ARRAY ? v->u.arr.n : 0; }

static int bad(ctx *c, const char *msg, const pg_value *v)
{
    return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "%s, got %s", msg, pg_type_name(v));
}

static int oom(ctx *c) { return pg_fail(c->st, PG_INTERNAL, "out of memory"); }

static int count_term(ctx *c)
{
    if (++c->terms > PG_QUERY_MAX_TERMS)
        return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path,
                          "the filter has more than %d terms (conditions and listed values)",
                          PG_QUERY_MAX_TERMS);
    return 1;
}

static int too_many(ctx *c)
{
    c->terms = PG_QUERY_MAX_TERMS;
    return count_term(c);
}

static int value(ctx *c, const pg_value *v, value_kind kind, pg_query_val *out)
{
    memset(out, 0, sizeof *out);
    if (kind == V_NUM) {
        if (!v || v->type != PG_NUMBER || !isfinite(v->u.n))
            return bad(c, "expected a finite number", v);
        out->is_num = 1;
        out->n = v->u.n;
        return 1;
    }
    if (!v || v->type != PG_STRING)
        return bad(c, kind == V_DATE ? "expected an ISO-8601 date (2026-11-27T20:38:40.123Z)"
                                     : "expected a string", v);
    if (kind == V_DATE) {
        int64_t ms;
        if (!pg_parse_iso8601(v->u.str.s, v->u.str.len, &ms))
            return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path,
                              "expected an ISO-8601 date in UTC with milliseconds"
                              " (2026-11-27T20:38:40.123Z)");
        out->is_num = 1;
        out->n = (double)ms;
        return 1;
    }
    {
        const char *problem = pg_utf8_problem(v->u.str.s, v->u.str.len);
        if (problem)
            return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "%s", problem);
    }
    if ((c->text += v->u.str.len) > PG_QUERY_MAX_TEXT)
        return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path,
                          "the filter's strings are longer than %d bytes in all", PG_QUERY_MAX_TEXT);
    if (kind == V_TYPE) {
        /* a name no item has (a typo, "image") would match nothing, silently */
        static const char *const types[] = { "IMAGE", "VIDEO", "TEXT", "UNDEFINED", NULL };
        size_t k;
        for (k = 0; types[k]; k++)
            if (strlen(types[k]) == v->u.str.len && memcmp(types[k], v->u.str.s, v->u.str.len) == 0)
                break;
        if (!types[k])
            return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path,
                              "expected IMAGE, VIDEO, TEXT or UNDEFINED");
    }
    out->s = v->u.str.s;
    out->len = v->u.str.len;
    return 1;
}

static int same_val(const pg_query_val *x, const pg_query_val *y)
{
    return x->is_num ? x->n == y->n : x->len == y->len && memcmp(x->s, y->s, x->len) == 0;
}

static pg_query_node *new_node(ctx *c, pg_query_op op)
{
    pg_query_node *n = pg_arena_alloc(c->a, sizeof *n);
    if (!n)
        return oom(c), NULL;
    memset(n, 0, sizeof *n);
    n->op = op;
    return n;
}

/* One condition: field `f` (FIELDS index) with operator op and its operand v. */
static pg_query_node *condition(ctx *c, size_t f, pg_query_op op, const pg_value *v)
{
    pg_query_node *n;
    size_t i, count;
    if (!(FIELDS[f].ops & (1u << op)))
        return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "operator not supported on %s",
                          FIELDS[f].name), NULL;
    if (!count_term(c) || !(n = new_node(c, op)))
        return NULL;
    n->field = FIELDS[f].field;
    if (op != PG_QOP_IN && op != PG_QOP_HAS_SOME && op != PG_QOP_HAS_ALL) {
        n->nvals = 1;
        if (!(n->vals = pg_arena_alloc(c->a, sizeof *n->vals)))
            return oom(c), NULL;
        return value(c, v, FIELDS[f].kind, n->vals) ? n : NULL;
    }
    if (!is_list(v))
        return bad(c, "expected an array", v), NULL;
    count = list_len(v);
    if (count > PG_QUERY_MAX_TERMS)
        return too_many(c), NULL;
    if (count && !(n->vals = pg_arena_alloc(c->a, count * sizeof *n->vals)))
        return oom(c), NULL;
    for (i = 0; i < count; i++) {
        size_t old = pg_path_index(c->path, i + 1), k;
        pg_query_val val;
        int dup = 0;
        if (!count_term(c) || !value(c, v->u.arr.v[i], FIELDS[f].kind, &val))
            return NULL;
        pg_path_pop(c->path, old);
        for (k = 0; k < n->nvals && !dup; k++) /* count <= the term bound: quadratic in a constant */
            dup = same_val(&n->vals[k], &val);
        if (!dup)
            n->vals[n->nvals++] = val;
    }
    return n;
}

static int add_kid(ctx *c, pg_query_node *parent, pg_query_node *kid, size_t cap)
{
    if (!parent->kids && !(parent->kids = pg_arena_alloc(c->a, cap * sizeof *parent->kids)))
        return oom(c);
    parent->kids[parent->nkids++] = kid;
    return 1;
}

static int find_field(ctx *c, const pg_member *m, size_t *f)
{
    size_t i;
    for (i = 0; i < NFIELDS; i++)
        if (is(m, FIELDS[i].name) && (FIELDS[i].targets & (1 << c->target))) {
            *f = i;
            return 1;
        }
    return 0;
}

static pg_query_node *filter(ctx *c, const pg_value *v, int depth);

/* A member of a filter object: $and / $or, or a field with its conditions. */
static pg_query_node *filter_member(ctx *c, const pg_member *m, int depth)
{
    size_t f, i;
    pg_query_node *n;
    if (is(m, "$and") || is(m, "$or")) {
        size_t count;
        if (depth >= PG_QUERY_MAX_DEPTH)
            return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "nested deeper than %d levels",
                              PG_QUERY_MAX_DEPTH), NULL;
        if (!is_list(m->val))
            return bad(c, "expected an array of filters", m->val), NULL;
        if (!count_term(c) || !(n = new_node(c, is(m, "$and") ? PG_QOP_AND : PG_QOP_OR)))
            return NULL;
        count = list_len(m->val);
        if (count > PG_QUERY_MAX_TERMS)
            return too_many(c), NULL;
        for (i = 0; i < count; i++) {
            size_t old = pg_path_index(c->path, i + 1);
            pg_query_node *kid = filter(c, m->val->u.arr.v[i], depth + 1);
            if (!kid || !add_kid(c, n, kid, count))
                return NULL;
            pg_path_pop(c->path, old);
        }
        return n;
    }
    if (m->keylen && m->key[0] == '$')
        return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "unknown operator"), NULL;
    if (!find_field(c, m, &f))
        return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "unknown field"), NULL;
    if (m->val && m->val->type == PG_OBJECT && m->val->u.obj.n > 0) {
        const pg_value *ops = m->val;
        if (ops->u.obj.n == 1) {
            const pg_member *o = &ops->u.obj.m[0];
            size_t old = pg_path_key(c->path, o->key, o->keylen);
            for (i = 0; i < NOPS; i++)
                if (is(o, OPS[i].name))
                    break;
            if (i == NOPS)
                return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "unknown operator"), NULL;
            n = condition(c, f, OPS[i].op, o->val);
            pg_path_pop(c->path, old);
            return n;
        }
        /* { $gte = a, $lt = b }: all of them */
        if (!(n = new_node(c, PG_QOP_AND)))
            return NULL;
        for (i = 0; i < ops->u.obj.n; i++) {
            const pg_member *o = &ops->u.obj.m[i];
            size_t old = pg_path_key(c->path, o->key, o->keylen), k;
            pg_query_node *kid;
            for (k = 0; k < NOPS; k++)
                if (is(o, OPS[k].name))
                    break;
            if (k == NOPS)
                return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "unknown operator"), NULL;
            if (!(kid = condition(c, f, OPS[k].op, o->val)) || !add_kid(c, n, kid, ops->u.obj.n))
                return NULL;
            pg_path_pop(c->path, old);
        }
        return n;
    }
    if (m->val && (m->val->type == PG_ARRAY || m->val->type == PG_OBJECT))
        return bad(c, "expected a value or an object of operators", m->val), NULL;
    /* { field = value }: Wix's shorthand for $eq */
    return condition(c, f, PG_QOP_EQ, m->val);
}

static pg_query_node *filter(ctx *c, const pg_value *v, int depth)
{
    pg_query_node *n;
    size_t i, count;
    if (!is_object(v))
        return bad(c, "expected an object", v), NULL;
    count = v->type == PG_OBJECT ? v->u.obj.n : 0;
    if (count == 1) {
        const pg_member *m = &v->u.obj.m[0];
        size_t old = pg_path_key(c->path, m->key, m->keylen);
        n = filter_member(c, m, depth);
        pg_path_pop(c->path, old);
        return n;
    }
    if (!(n = new_node(c, PG_QOP_AND)))
        return NULL;
    for (i = 0; i < count; i++) {
        const pg_member *m = &v->u.obj.m[i];
        size_t old = pg_path_key(c->path, m->key, m->keylen);
        pg_query_node *kid = filter_member(c, m, depth);
        if (!kid || !add_kid(c, n, kid, count))
            return NULL;
        pg_path_pop(c->path, old);
    }
    return n;
}

static int parse_sort(ctx *c, const pg_value *v, pg_query *q)
{
    size_t i, k, count;
    q->nsort = 0;
    if (absent(v)) {
        q->sort[q->nsort].field = c->target == PG_Q_ITEMS ? PG_QF_SORT : PG_QF_CREATED;
        q->sort[q->nsort++].desc = 0;
    } else {
        if (!is_list(v))
            return bad(c, "expected an array of { fieldName, order }", v);
        count = list_len(v);
        if (count > PG_QUERY_MAX_SORT)
            return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "at most %d sort fields",
                              PG_QUERY_MAX_SORT);
        for (i = 0; i < count; i++) {
            const pg_value *s = v->u.arr.v[i];
            const pg_value *name = NULL, *order = NULL;
            size_t old = pg_path_index(c->path, i + 1), f = NFIELDS;
            if (!is_object(s))
                return bad(c, "expected { fieldName, order }", s);
            for (k = 0; s->type == PG_OBJECT && k < s->u.obj.n; k++) {
                const pg_member *m = &s->u.obj.m[k];
                if (is(m, "fieldName"))
                    name = m->val;
                else if (is(m, "order"))
                    order = m->val;
                else {
                    pg_path_key(c->path, m->key, m->keylen);
                    return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "unknown field");
                }
            }
            k = pg_path_key(c->path, "fieldName", 9);
            if (absent(name))
                return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "required");
            if (name->type != PG_STRING)
                return bad(c, "expected a string", name);
            {
                pg_member m;
                m.key = name->u.str.s;
                m.keylen = name->u.str.len;
                if (!find_field(c, &m, &f) || !FIELDS[f].sortable)
                    return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "%s",
                                      c->target == PG_Q_ITEMS
                                          ? "not a sort field (sortOrder, _createdDate, _updatedDate)"
                                          : "not a sort field (name, _createdDate)");
            }
            for (k = 0; k < q->nsort; k++)
                if (q->sort[k].field == FIELDS[f].field)
                    return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "sorted on twice");
            pg_path_pop(c->path, old);
            pg_path_index(c->path, i + 1);
            q->sort[q->nsort].field = FIELDS[f].field;
            q->sort[q->nsort].desc = 0;
            if (!absent(order)) {
                pg_path_key(c->path, "order", 5);
                if (order->type != PG_STRING
                    || !((order->u.str.len == 3 && memcmp(order->u.str.s, "ASC", 3) == 0)
                         || (order->u.str.len == 4 && memcmp(order->u.str.s, "DESC", 4) == 0)))
                    return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "expected ASC or DESC");
                q->sort[q->nsort].desc = order->u.str.len == 4;
            }
            q->nsort++;
            pg_path_pop(c->path, old);
        }
        if (q->nsort == 0) { /* sort = {}: the default */
            q->sort[0].field = c->target == PG_Q_ITEMS ? PG_QF_SORT : PG_QF_CREATED;
            q->sort[0].desc = 0;
            q->nsort = 1;
        }
    }
    /* the row key last, in the first key's direction: a one-field sort then reads
     * one index in either direction, and the order is total (keyset is exact) */
    q->sort[q->nsort].field = PG_QF_KEY;
    q->sort[q->nsort++].desc = q->sort[0].desc;
    return 1;
}

/* filter and sort (from the request, or from a cursor) into q */
static int parse_parts(ctx *c, const pg_value *f, const pg_value *s, pg_query *q)
{
    size_t old;
    old = pg_path_key(c->path, "filter", 6);
    if (!absent(f)) {
        if (!(q->filter = filter(c, f, 0)))
            return 0;
        q->filter_in = f;
    }
    pg_path_pop(c->path, old);
    old = pg_path_key(c->path, "sort", 4);
    if (!parse_sort(c, s, q))
        return 0;
    if (!absent(s))
        q->sort_in = s;
    pg_path_pop(c->path, old);
    return 1;
}

static const char *target_name(pg_query_target t) { return t == PG_Q_ITEMS ? "items" : "galleries"; }

static int not_ours(ctx *c)
{
    return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path,
                      "not a valid cursor (altered, or not made by this store)");
}

static const pg_value *get(const pg_value *o, const char *key) { return pg_obj_get(o, key); }

static int decode_cursor(ctx *c, const pg_value *v, const char *gallery_id,
                         const unsigned char secret[PG_QUERY_SECRET_LEN], pg_query *q)
{
    unsigned char *raw, tag[32];
    long n;
    const char *err = NULL;
    const pg_value *body, *t, *g, *a, *r;
    size_t i;
    if (!v || v->type != PG_STRING)
        return bad(c, "expected a cursor string", v);
    if (v->u.str.len > PG_QUERY_MAX_CURSOR)
        return not_ours(c);
    if (!(raw = pg_arena_alloc(c->a, v->u.str.len / 4 * 3 + 3)))
        return oom(c);
    n = pg_b64url_decode(v->u.str.s, v->u.str.len, raw);
    if (n < 32 + 2 || !pg_hmac_sha256(secret, PG_QUERY_SECRET_LEN, raw + 32, (size_t)n - 32, tag)
        || !pg_same_bytes(tag, raw, 32))
        return not_ours(c);
    /* signed by this store: what follows was written by pg_query_cursor */
    body = pg_json_decode(c->a, (const char *)raw + 32, (size_t)n - 32, &err);
    if (!body || body->type != PG_OBJECT || !(t = get(body, "t")) || t->type != PG_STRING
        || !get(body, "v") || get(body, "v")->type != PG_NUMBER || get(body, "v")->u.n != 1)
        return body || err ? not_ours(c) : oom(c);
    if (strlen(target_name(c->target)) != t->u.str.len
        || memcmp(target_name(c->target), t->u.str.s, t->u.str.len) != 0)
        return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "a cursor of %s",
                          c->target == PG_Q_ITEMS ? "queryGalleries, not of queryGalleryItems"
                                                  : "queryGalleryItems, not of queryGalleries");
    g = get(body, "g");
    if (gallery_id && (!g || g->type != PG_STRING || g->u.str.len != strlen(gallery_id)
                       || memcmp(g->u.str.s, gallery_id, g->u.str.len) != 0))
        return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "a cursor of another gallery");
    if (!parse_parts(c, get(body, "f"), get(body, "s"), q))
        return 0;
    a = get(body, "a");
    r = get(body, "r");
    if (!a || a->type != PG_ARRAY || a->u.arr.n != q->nsort - 1 || !r || r->type != PG_NUMBER
        || !pg_number_is_int(r->u.n))
        return not_ours(c);
    for (i = 0; i + 1 < q->nsort; i++) {
        const pg_value *x = a->u.arr.v[i];
        pg_query_val *out = &q->after[i];
        memset(out, 0, sizeof *out);
        if (q->sort[i].field == PG_QF_NAME) {
            if (x->type != PG_STRING)
                return not_ours(c);
            out->s = x->u.str.s;
            out->len = x->u.str.len;
        } else {
            if (x->type != PG_NUMBER || !isfinite(x->u.n))
                return not_ours(c);
            out->is_num = 1;
            out->n = x->u.n;
        }
    }
    q->has_after = 1;
    q->after_key = (int64_t)r->u.n;
    return 1;
}

static int paging(ctx *c, const pg_value *v, const pg_value **cursor, pg_query *q)
{
    size_t i;
    q->limit = PG_QUERY_LIMIT_DEFAULT;
    *cursor = NULL;
    if (absent(v))
        return 1;
    if (!is_object(v))
        return bad(c, "expected an object", v);
    for (i = 0; v->type == PG_OBJECT && i < v->u.obj.n; i++) {
        const pg_member *m = &v->u.obj.m[i];
        size_t old = pg_path_key(c->path, m->key, m->keylen);
        if (is(m, "limit")) {
            if (!absent(m->val)) {
                const pg_value *l = m->val;
                if (l->type != PG_NUMBER || l->u.n != floor(l->u.n) || l->u.n < 1
                    || l->u.n > PG_QUERY_LIMIT_MAX)
                    return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path,
                                      "must be an integer between 1 and %d", PG_QUERY_LIMIT_MAX);
                q->limit = (int64_t)l->u.n;
            }
        } else if (is(m, "cursor")) {
            if (!absent(m->val))
                *cursor = m->val;
        } else {
            return pg_fail_at(c->st, PG_INVALID_ARGUMENT, c->path, "unknown field");
        }
        pg_path_pop(c->path, old);
    }
    return 1;
}

int pg_query_parse(pg_arena *a, const pg_value *query, pg_query_target target,
                   const char *gallery_id, const unsigned char secret[PG_QUERY_SECRET_LEN],
                   pg_path *path, pg_query *q, pg_status *st)
{
    ctx c;
    const pg_value *f = NULL, *s = NULL, *p = NULL, *cursor;
    size_t i, old;
    memset(q, 0, sizeof *q);
    c.a = a;
    c.path = path;
    c.st = st;
    c.target = target;
    c.terms = c.text = 0;
    q->target = target;
    if (gallery_id)
        snprintf(q->gallery_id, sizeof q->gallery_id, "%s", gallery_id);
    if (!absent(query)) {
        if (!is_object(query))
            return bad(&c, "expected an object", query);
        for (i = 0; query->type == PG_OBJECT && i < query->u.obj.n; i++) {
            const pg_member *m = &query->u.obj.m[i];
            if (is(m, "filter"))
                f = m->val;
            else if (is(m, "sort"))
                s = m->val;
            else if (is(m, "cursorPaging"))
                p = m->val;
            else {
                pg_path_key(path, m->key, m->keylen);
                return pg_fail_at(st, PG_INVALID_ARGUMENT, path, "%s",
                                  is(m, "paging") ? "not supported: page with cursorPaging"
                                                  : "unknown field");
            }
        }
    }
    old = pg_path_key(path, "cursorPaging", 12);
    if (!paging(&c, p, &cursor, q))
        return 0;
    pg_path_pop(path, old);
    if (!cursor)
        return parse_parts(&c, f, s, q);
    if (!absent(f) || !absent(s)) {
        pg_path_key(path, !absent(f) ? "filter" : "sort", !absent(f) ? 6 : 4);
        return pg_fail_at(st, PG_INVALID_ARGUMENT, path,
                          "not allowed with a cursor (the cursor carries the filter and sort)");
    }
    old = pg_path_key(path, "cursorPaging", 12);
    pg_path_key(path, "cursor", 6);
    if (!decode_cursor(&c, cursor, gallery_id, secret, q))
        return 0;
    pg_path_pop(path, old);
    return 1;
}

static int put(pg_arena *a, pg_value *o, const char *key, pg_value *v)
{
    return v && pg_obj_add(a, o, key, v);
}

char *pg_query_cursor(pg_arena *a, const pg_query *q, const pg_query_val *vals, int64_t key,
                      const unsigned char secret[PG_QUERY_SECRET_LEN])
{
    pg_value *body = pg_new_object(a, 7), *after = pg_new_array(a, q->nsort);
    size_t i, len, n;
    char *json, *out;
    unsigned char *raw;
    if (!body || !after)
        return NULL;
    for (i = 0; i + 1 < q->nsort; i++)
        if (!pg_arr_push(a, after, vals[i].is_num ? pg_new_number(a, vals[i].n)
                                                  : pg_new_string_ref(a, vals[i].s, vals[i].len))
            || after->u.arr.n != i + 1)
            return NULL;
    if (!put(a, body, "v", pg_new_number(a, 1))
        || !put(a, body, "t", pg_new_string_ref(a, target_name(q->target), strlen(target_name(q->target))))
        || (q->target == PG_Q_ITEMS
            && !put(a, body, "g", pg_new_string_ref(a, q->gallery_id, strlen(q->gallery_id))))
        || !put(a, body, "f", q->filter_in ? (pg_value *)q->filter_in : pg_new_null(a))
        || !put(a, body, "s", q->sort_in ? (pg_value *)q->sort_in : pg_new_null(a))
        || !put(a, body, "a", after) || !put(a, body, "r", pg_new_number(a, (double)key)))
        return NULL;
    if (!(json = pg_json_encode(a, body, &len)) || !(raw = pg_arena_alloc(a, 32 + len))
        || !(out = pg_arena_alloc(a, 4 * ((32 + len + 2) / 3) + 1)))
        return NULL;
    memcpy(raw + 32, json, len);
    if (!pg_hmac_sha256(secret, PG_QUERY_SECRET_LEN, raw + 32, len, raw))
        return NULL;
    n = pg_b64url(raw, 32 + len, out);
    out[n] = '\0';
    return out;
}
