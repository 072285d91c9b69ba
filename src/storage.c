/* The engine table: the one place that knows which engines exist. A new
 * engine is one file with its ops and one line here. */
#include <string.h>

#include "storage.h"

extern const pg_storage_ops pg_sqlite_ops;
#ifdef PG_HAVE_POSTGRES
extern const pg_storage_ops pg_postgres_ops;
#endif

static const pg_storage_ops *const engines[] = {
    &pg_sqlite_ops,
#ifdef PG_HAVE_POSTGRES
    &pg_postgres_ops,
#endif
    NULL,
};

const pg_storage_ops *pg_storage_engine(const char *name)
{
    size_t i;
    if (!name)
        name = "sqlite";
    for (i = 0; engines[i]; i++)
        if (strcmp(engines[i]->name, name) == 0 && engines[i]->version == PG_STORAGE_VERSION)
            return engines[i];
    return NULL;
}

const char *pg_storage_engine_names(void)
{
#ifdef PG_HAVE_POSTGRES
    return "sqlite, postgres";
#else
    return "sqlite";
#endif
}
