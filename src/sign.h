/* RS256 JSON Web Tokens (RFC 7515/7519) for webhooks (spec section 10.5), and the
 * HMAC of query cursors (section 14): OpenSSL's libcrypto, nothing cryptographic
 * written here. */
#ifndef PG_SIGN_H
#define PG_SIGN_H

#include <stddef.h>

/* The compact JWT of payload (JSON text), header {"alg":"RS256","typ":"JWT"},
 * signed with the RSA private key in PEM (PKCS#1 or PKCS#8). Returns a
 * malloc'ed NUL-terminated string (*len bytes) for the caller to free, or NULL
 * with err set. */
char *pg_jwt_rs256(const char *pem, size_t pemlen, const char *payload, size_t len, size_t *outlen,
                   char err[256]);

/* base64url without padding of n bytes into out (room for 4 * ceil(n / 3) + 1); the length. */
size_t pg_b64url(const unsigned char *in, size_t n, char *out);
/* The bytes of a base64url text without padding (out: room for 3 * n / 4), their
 * number, or -1 when the text is not one that pg_b64url writes. */
long pg_b64url_decode(const char *in, size_t n, unsigned char *out);
/* HMAC-SHA256 (the signature of query cursors); 1, or 0 on failure. */
int pg_hmac_sha256(const unsigned char *key, size_t keylen, const unsigned char *msg, size_t len,
                   unsigned char out[32]);
/* Equal, in a time that does not depend on where they differ. */
int pg_same_bytes(const void *a, const void *b, size_t n);

#endif
