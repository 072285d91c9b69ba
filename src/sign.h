/* RS256 JSON Web Tokens (RFC 7515/7519) for webhooks (spec section 10.5):
 * signed with OpenSSL's libcrypto, nothing cryptographic written here. */
#ifndef PG_SIGN_H
#define PG_SIGN_H

#include <stddef.h>

/* The compact JWT of payload (JSON text), header {"alg":"RS256","typ":"JWT"},
 * signed with the RSA private key in PEM (PKCS#1 or PKCS#8). Returns a
 * malloc'ed NUL-terminated string (*len bytes) for the caller to free, or NULL
 * with err set. */
char *pg_jwt_rs256(const char *pem, size_t pemlen, const char *payload, size_t len, size_t *outlen,
                   char err[256]);

#endif
