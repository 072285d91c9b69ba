/* UTF-8 checks: what the core takes as text. */
#ifndef PG_UTF8_H
#define PG_UTF8_H

#include <stddef.h>

/* NULL when s is valid UTF-8 (no overlongs, surrogates or NUL bytes), else why not. */
const char *pg_utf8_problem(const char *s, size_t n);
/* Length of the valid UTF-8 character that s starts with (1 to 4), or 0: none
 * (n == 0, a NUL byte, or bytes that are not UTF-8). */
size_t pg_utf8_char(const char *s, size_t n);

#endif
