#include "query_sql.h"

#include <stdio.h>

static const char *col(const pg_sql_build *b, pg_query_field f, int sorting)
{
    return b->d->column(f, b->items, sorting);
}

int pg_sql_param(pg_sql_build *b, pg_query_field f, const pg_query_val *v)
{
    if (b->nparams >= PG_SQL_MAX_PARAMS || !b->d->param(b, b->nparams + 1, f, v))
        return 0;
    return ++b->nparams;
}

static int list(pg_sql_build *b, const pg_query_node *n, pg_query_field f)
{
    size_t i;
    pg_sql_add(b, "(");
    for (i = 0; i < n->nvals; i++) {
        if (i)
            pg_sql_add(b, ", ");
        if (!pg_sql_param(b, f, &n->vals[i]))
            return 0;
    }
    pg_sql_add(b, ")");
    return 1;
}

static int where(pg_sql_build *b, const pg_query_node *n)
{
    static const char *const cmp[] = { [PG_QOP_EQ] = " = ", [PG_QOP_GT] = " > ",
                                       [PG_QOP_GTE] = " >= ", [PG_QOP_LT] = " < ",
                                       [PG_QOP_LTE] = " <= " };
    const pg_sql_dialect *d = b->d;
    size_t i;
    switch (n->op) {
    case PG_QOP_AND:
    case PG_QOP_OR:
        if (n->nkids == 0) {
            pg_sql_add(b, n->op == PG_QOP_AND ? d->true_sql : d->false_sql);
            return 1;
        }
        pg_sql_add(b, "(");
        for (i = 0; i < n->nkids; i++) {
            if (i)
                pg_sql_add(b, n->op == PG_QOP_AND ? " AND " : " OR ");
            if (!where(b, n->kids[i]))
                return 0;
        }
        pg_sql_add(b, ")");
        return 1;
    case PG_QOP_IN:
        if (n->nvals == 0) {
            pg_sql_add(b, d->false_sql);
            return 1;
        }
        pg_sql_add(b, "(");
        pg_sql_add(b, col(b, n->field, 0));
        pg_sql_add(b, " IN ");
        if (!list(b, n, n->field))
            return 0;
        pg_sql_add(b, ")");
        return 1;
    case PG_QOP_HAS_SOME:
    case PG_QOP_HAS_ALL:
        if (n->nvals == 0) {
            pg_sql_add(b, n->op == PG_QOP_HAS_ALL ? d->true_sql : d->false_sql);
            return 1;
        }
        pg_sql_add(b, n->op == PG_QOP_HAS_SOME ? d->has_some : d->has_all);
        if (!list(b, n, PG_QF_TAGS))
            return 0;
        if (n->op == PG_QOP_HAS_ALL) {
            char num[32];
            snprintf(num, sizeof num, ") = %zu)", n->nvals);
            pg_sql_add(b, num);
        } else {
            pg_sql_add(b, ")");
        }
        return 1;
    case PG_QOP_STARTS:
        return d->starts_with(b, n->field, col(b, n->field, 0), &n->vals[0]);
    default:
        pg_sql_add(b, "(");
        pg_sql_add(b, col(b, n->field, 0));
        pg_sql_add(b, n->op == PG_QOP_NE ? d->ne : cmp[n->op]);
        if (!pg_sql_param(b, n->field, &n->vals[0]))
            return 0;
        pg_sql_add(b, ")");
        return 1;
    }
}

/* The rows after the cursor's position in the sort's order. */
static int after(pg_sql_build *b, const pg_query *q)
{
    size_t i, same = 1;
    for (i = 1; i < q->nsort; i++)
        same = same && q->sort[i].desc == q->sort[0].desc;
    /* a >= ? first: the bound an index seeks to (SQLite does not seek on a row value
     * over an expression index) */
    pg_sql_add(b, " AND ");
    pg_sql_add(b, col(b, q->sort[0].field, 1));
    pg_sql_add(b, q->sort[0].desc ? " <= " : " >= ");
    if (!pg_sql_param(b, q->sort[0].field, &q->after[0]))
        return 0;
    if (same) {
        /* (a, b, key) > (?, ?, ?): one range of the sort's index */
        pg_sql_add(b, " AND (");
        for (i = 0; i < q->nsort; i++) {
            if (i)
                pg_sql_add(b, ", ");
            pg_sql_add(b, col(b, q->sort[i].field, 1));
        }
        pg_sql_add(b, q->sort[0].desc ? ") < (" : ") > (");
        for (i = 0; i < q->nsort; i++) {
            if (i)
                pg_sql_add(b, ", ");
            if (!pg_sql_param(b, q->sort[i].field, i + 1 < q->nsort ? &q->after[i] : &b->key))
                return 0;
        }
        pg_sql_add(b, ")");
        return 1;
    }
    /* mixed directions: (a > ? OR (a = ? AND (b < ? OR ...))) */
    pg_sql_add(b, " AND ");
    for (i = 0; i < q->nsort; i++) {
        const pg_query_val *v = i + 1 < q->nsort ? &q->after[i] : &b->key;
        pg_sql_add(b, "(");
        pg_sql_add(b, col(b, q->sort[i].field, 1));
        pg_sql_add(b, q->sort[i].desc ? " < " : " > ");
        if (!pg_sql_param(b, q->sort[i].field, v))
            return 0;
        if (i + 1 < q->nsort) {
            pg_sql_add(b, " OR (");
            pg_sql_add(b, col(b, q->sort[i].field, 1));
            pg_sql_add(b, " = ");
            if (!pg_sql_param(b, q->sort[i].field, v))
                return 0;
            pg_sql_add(b, " AND ");
        }
    }
    for (i = 0; i < q->nsort; i++)
        pg_sql_add(b, i + 1 < q->nsort ? "))" : ")");
    return 1;
}

static void number(pg_query_val *v, int64_t n)
{
    memset(v, 0, sizeof *v);
    v->is_num = 1;
    v->n = (double)n;
}

int pg_sql_compile(pg_sql_build *b, const pg_query *q, int items, int64_t gallery_key, int64_t limit)
{
    size_t i;
    b->items = items;
    b->nparams = 0;
    number(&b->gallery, gallery_key);
    number(&b->key, q->after_key);
    number(&b->limit, limit);
    if (items) {
        pg_sql_add(b, b->d->select_items);
        if (!pg_sql_param(b, PG_QF_KEY, &b->gallery))
            return 0;
    } else {
        pg_sql_add(b, b->d->select_galleries);
    }
    if (q->filter) {
        pg_sql_add(b, " AND ");
        if (!where(b, q->filter))
            return 0;
    }
    if (q->has_after && !after(b, q))
        return 0;
    pg_sql_add(b, " ORDER BY ");
    for (i = 0; i < q->nsort; i++) {
        if (i)
            pg_sql_add(b, ", ");
        pg_sql_add(b, col(b, q->sort[i].field, 1));
        pg_sql_add(b, q->sort[i].desc ? " DESC" : " ASC");
    }
    pg_sql_add(b, " LIMIT ");
    if (!pg_sql_param(b, PG_QF_KEY, &b->limit))
        return 0;
    return !b->sql.oom;
}
