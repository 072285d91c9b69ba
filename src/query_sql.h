/* A parsed query (query.h) as one SELECT, for any SQL engine. The shape of the
 * statement is the same on every engine: the filter's conditions, the keyset
 * position as a row comparison the sort's index serves, the sort and LIMIT, every
 * value a parameter (no caller text is ever part of the SQL). What differs (the
 * schema's column expressions, literals, operators, the JSON functions and how a
 * parameter is written and bound) each engine names in a dialect, as SQLite's VFS
 * names its methods: a table of the engine's own SQL fragments and two hooks,
 * kept in the engine's file with the rest of its SQL. */
#ifndef PG_QUERY_SQL_H
#define PG_QUERY_SQL_H

#include "query.h"
#include "strbuf.h"

/* The parameters a query can need: the filter's values, the keyset position (a
 * bound and a row value), the gallery and the limit. */
#define PG_SQL_MAX_PARAMS (PG_QUERY_MAX_TERMS + 2 * (PG_QUERY_MAX_SORT + 1) + 8)

typedef struct pg_sql_build pg_sql_build;

typedef struct {
    const char *true_sql, *false_sql;
    const char *ne;                 /* the operator of $ne, spaced: " IS NOT " */
    const char *select_items;       /* up to "... WHERE gid = ", the gallery's parameter next */
    const char *select_galleries;   /* up to "... WHERE <true>" */
    const char *has_some, *has_all; /* each followed by the listed values' "(...)" */
    /* a field's column expression; sorting: in ORDER BY and the keyset comparisons (a
     * collation the sort needs goes here: a comparison takes the column's) */
    const char *(*column)(pg_query_field f, int items, int sorting);
    /* appends the placeholder of parameter n (from 1), value v met with field f, and
     * keeps v for binding: 1, or 0 when out of memory */
    int (*param)(pg_sql_build *b, int n, pg_query_field f, const pg_query_val *v);
    /* appends "column starts with v", a condition (its parameter through
     * pg_sql_param): 1, or 0 as pg_sql_param */
    int (*starts_with)(pg_sql_build *b, pg_query_field f, const char *column, const pg_query_val *v);
} pg_sql_dialect;

struct pg_sql_build {
    pg_strbuf sql;
    const pg_sql_dialect *d;
    int items;  /* PG_Q_ITEMS: the gallery's items; else galleries */
    int nparams;
    void *ud;   /* the engine's, for its param hook */
    /* values the statement binds that are not in the query (kept here for as long as
     * the build) */
    pg_query_val gallery, key, limit;
};

/* Appends a parameter's placeholder (the dialect's param): its number, or 0 when
 * out of room or memory. */
int pg_sql_param(pg_sql_build *b, pg_query_field f, const pg_query_val *v);

static inline void pg_sql_add(pg_sql_build *b, const char *s) { pg_strbuf_add(&b->sql, s, strlen(s)); }

/* Compiles q into b->sql (b->sql initialized by the caller, b->d, b->ud set):
 * the items of the gallery whose row key is gallery_key, or galleries (items 0),
 * at most limit rows. The parameters come in the order of their placeholders.
 * 1, or 0 when out of memory or parameters (b->sql.oom tells which). */
int pg_sql_compile(pg_sql_build *b, const pg_query *q, int items, int64_t gallery_key, int64_t limit);

#endif
