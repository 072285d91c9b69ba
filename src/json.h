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
/* The encoder's strings and numbers, for text made without a tree (a REST list's item heads). */
void pg_json_write_string(pg_strbuf *b, const char *s, size_t n);
void pg_json_write_number(pg_strbuf *b, double n);
pg_value *pg_json_decode(pg_arena *a, const char *s, size_t len, const char **err);
/* The same for text from outside (a REST body), which may also not name a key twice in
 * one object: parsers differ on which of the two they keep (the first, the last, both),
 * so a store that kept both would answer one client one value and another the other.
 * *dup is then the second member (err: "duplicate key"), else NULL. */
pg_value *pg_json_decode_input(pg_arena *a, const char *s, size_t len, const char **err,
                               const pg_member **dup);

#endif
