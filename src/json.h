/* JSON text <-> value trees. */
#ifndef PG_JSON_H
#define PG_JSON_H

#include "value.h"

/* JSON. Encoding writes into the arena; returns NULL on out of memory.
 * Decoding returns NULL and fills err (static text) on malformed input. */
char *pg_json_encode(pg_arena *a, const pg_value *v, size_t *len);
pg_value *pg_json_decode(pg_arena *a, const char *s, size_t len, const char **err);

#endif
