/* Value trees: constructors, containers and member lookup. */
#include "value.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static pg_value *new_value(pg_arena *a, pg_type t)
{
    pg_value *v = pg_arena_alloc(a, sizeof *v);
    if (v) {
        memset(v, 0, sizeof *v);
        v->type = t;
    }
    return v;
}

pg_value *pg_new_null(pg_arena *a) { return new_value(a, PG_NULL); }

pg_value *pg_new_bool(pg_arena *a, int b)
{
    pg_value *v = new_value(a, PG_BOOL);
    if (v)
        v->u.b = b != 0;
    return v;
}

pg_value *pg_new_number(pg_arena *a, double n)
{
    pg_value *v = new_value(a, PG_NUMBER);
    if (v)
        v->u.n = n;
    return v;
}

pg_value *pg_new_string_ref(pg_arena *a, const char *s, size_t len)
{
    pg_value *v = new_value(a, PG_STRING);
    if (v) {
        v->u.str.s = s;
        v->u.str.len = len;
    }
    return v;
}

pg_value *pg_new_string(pg_arena *a, const char *s, size_t len)
{
    char *copy = pg_arena_strdup(a, s, len);
    return copy ? pg_new_string_ref(a, copy, len) : NULL;
}

pg_value *pg_new_invalid(pg_arena *a, const char *what)
{
    pg_value *v = pg_new_string_ref(a, what, strlen(what));
    if (v)
        v->type = PG_INVALID;
    return v;
}

pg_value *pg_new_array(pg_arena *a, size_t cap)
{
    pg_value *v = new_value(a, PG_ARRAY);
    if (v && cap) {
        v->u.arr.v = pg_arena_alloc(a, cap * sizeof(pg_value *));
        if (!v->u.arr.v)
            return NULL;
        v->u.arr.cap = cap;
    }
    return v;
}

pg_value *pg_new_object(pg_arena *a, size_t cap)
{
    pg_value *v = new_value(a, PG_OBJECT);
    if (v && cap) {
        v->u.obj.m = pg_arena_alloc(a, cap * sizeof(pg_member));
        if (!v->u.obj.m)
            return NULL;
        v->u.obj.cap = cap;
    }
    return v;
}

static void *grow(pg_arena *a, void *old, size_t n, size_t *cap, size_t elem)
{
    size_t ncap = *cap ? *cap * 2 : 4;
    void *p;
    if (n < *cap)
        return old;
    if (ncap > SIZE_MAX / elem)
        return NULL;
    p = pg_arena_alloc(a, ncap * elem);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, old, n * elem);
    *cap = ncap;
    return p;
}

int pg_arr_push(pg_arena *a, pg_value *arr, pg_value *val)
{
    pg_value **v;
    if (!val)
        return 1;
    v = grow(a, arr->u.arr.v, arr->u.arr.n, &arr->u.arr.cap, sizeof(pg_value *));
    if (!v)
        return 0;
    arr->u.arr.v = v;
    v[arr->u.arr.n++] = val;
    return 1;
}

int pg_obj_addl(pg_arena *a, pg_value *obj, const char *key, size_t keylen, pg_value *val)
{
    pg_member *m;
    if (!val)
        return 1;
    m = grow(a, obj->u.obj.m, obj->u.obj.n, &obj->u.obj.cap, sizeof(pg_member));
    if (!m)
        return 0;
    obj->u.obj.m = m;
    m[obj->u.obj.n].key = key;
    m[obj->u.obj.n].keylen = keylen;
    m[obj->u.obj.n].val = val;
    obj->u.obj.n++;
    return 1;
}

int pg_obj_add(pg_arena *a, pg_value *obj, const char *key, pg_value *val)
{
    return pg_obj_addl(a, obj, key, strlen(key), val);
}

pg_value *pg_obj_get(const pg_value *obj, const char *key)
{
    return pg_obj_getl(obj, key, strlen(key));
}

pg_value *pg_obj_getl(const pg_value *obj, const char *key, size_t klen)
{
    size_t i;
    if (!obj || obj->type != PG_OBJECT)
        return NULL;
    for (i = 0; i < obj->u.obj.n; i++) {
        const pg_member *m = &obj->u.obj.m[i];
        if (m->keylen == klen && memcmp(m->key, key, klen) == 0)
            return m->val;
    }
    return NULL;
}

const char *pg_type_name(const pg_value *v)
{
    switch (v->type) {
    case PG_NULL: return "null";
    case PG_BOOL: return "boolean";
    case PG_NUMBER: return "number";
    case PG_STRING: return "string";
    case PG_ARRAY: return "array";
    case PG_OBJECT: return "table";
    case PG_RAW: return "stored text";
    case PG_INVALID: return v->u.str.s;
    }
    return "?";
}

int pg_number_is_int(double n)
{
    return n >= -9007199254740992.0 && n <= 9007199254740992.0 && n == floor(n);
}
