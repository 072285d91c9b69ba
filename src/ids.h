/* Ids and clocks: time-ordered UUIDv7 ids (RFC 9562) and ISO-8601 dates. */
#ifndef PG_IDS_H
#define PG_IDS_H

#include <stddef.h>
#include <stdint.h>

#define PG_UUID_LEN 36

typedef struct {
    uint64_t s[4];     /* xoshiro256** state, seeded from the OS */
    int64_t last_ms;   /* keeps ids of one connection strictly increasing */
    unsigned counter;  /* 12-bit sequence inside one millisecond */
} pg_idgen;

void pg_idgen_init(pg_idgen *g);
void pg_uuid7(pg_idgen *g, int64_t now_ms, char out[PG_UUID_LEN + 1]);

/* A UUID's 16 bytes <-> its lower-case 8-4-4-4-12 text (pg_uuid_bytes takes either case and
 * expects a UUID: pg_uuid_normalize checks one). */
void pg_uuid_text(const unsigned char b[16], char out[PG_UUID_LEN + 1]);
void pg_uuid_bytes(const char *id, unsigned char b[16]);

/* Accepts any 8-4-4-4-12 hex UUID (either case); writes it in lower case.
 * Returns 0 when s is not a UUID. */
int pg_uuid_normalize(const char *s, size_t len, char out[PG_UUID_LEN + 1]);

int64_t pg_now_ms(void);
/* For timeouts: never jumps with the wall clock. */
int64_t pg_monotonic_ms(void);
/* "2026-11-27T20:38:40.123Z"; out needs 25 bytes. Any ms is defined
 * behaviour; only dates for which pg_date_ok holds are ISO 8601. */
void pg_iso8601(int64_t ms, char out[48]);
/* ms falls in the years 0001 to 9999: a date this program can have stored.
 * An engine refuses any other read from its rows as damaged data. */
int pg_date_ok(int64_t ms);
/* "2026-11-27T20:38:40.123Z" (the only form the store writes) -> ms; 0 when malformed
 * or not a date pg_date_ok takes. */
int pg_parse_iso8601(const char *s, size_t len, int64_t *ms);

#endif
