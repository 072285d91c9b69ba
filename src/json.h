/* JSON text <-> value trees. */
#ifndef PG_JSON_H
#define PG_JSON_H

#include "strbuf.h"
#include "value.h"

/* JSON. Encoding writes into the arena; returns NULL on out of memory.
 * Decoding returns NULL and fills err (static text) on malformed input. */
char *pg_json_encode(pg_arena *a, const pg_value *v, size_t *len);
/* Appends the JSON text of v to b; 0 when out of memory. */
int pg_json_write(pg_strbuf *b, const pg_value *v);
pg_value *pg_json_decode(pg_arena *a, const char *s, size_t len, const char **err);

#endif
