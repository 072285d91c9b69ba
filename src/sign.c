/* Why libcrypto from C rather than Debian's lua-luaossl: the module already
 * builds C for both ABIs (Lua 5.4 and LuaJIT) from one Makefile, one function
 * (EVP_DigestSign) is all that is needed, and the webhook path then has no
 * extra Lua package to install or keep in step with two Lua versions. */
#include "sign.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ssl_error(char err[256], const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[200];
    if (e) {
        ERR_error_string_n(e, buf, sizeof buf);
        snprintf(err, 256, "%s: %s", what, buf);
    } else {
        snprintf(err, 256, "%s", what);
    }
    ERR_clear_error();
}

/* base64url without padding of n bytes into out (room for 4 * ceil(n / 3) + 1). */
static size_t b64url(const unsigned char *in, size_t n, char *out)
{
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    size_t i, m = len > 0 ? (size_t)len : 0;
    while (m > 0 && out[m - 1] == '=')
        m--;
    for (i = 0; i < m; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    out[m] = '\0';
    return m;
}

static size_t b64_room(size_t n) { return 4 * ((n + 2) / 3) + 1; }

char *pg_jwt_rs256(const char *pem, size_t pemlen, const char *payload, size_t len, size_t *outlen,
                   char err[256])
{
    static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
    BIO *bio = NULL;
    EVP_PKEY *key = NULL;
    EVP_MD_CTX *md = NULL;
    unsigned char *sig = NULL;
    size_t siglen = 0, n;
    char *out = NULL;
    err[0] = '\0';
    if (pemlen > 65536 || len > (size_t)1 << 30) {
        snprintf(err, 256, "%s", pemlen > 65536 ? "key: too large for a PEM key" : "payload: too large");
        return NULL;
    }
    if (!(bio = BIO_new_mem_buf(pem, (int)pemlen))
        || !(key = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)""))) {
        ssl_error(err, "key: not a PEM private key");
        goto done;
    }
    if (EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
        snprintf(err, 256, "key: not an RSA key (RS256 needs one)");
        goto done;
    }
    /* header.payload, then .signature */
    out = malloc(b64_room(sizeof header - 1) + 1 + b64_room(len) + 1
                 + b64_room((size_t)EVP_PKEY_get_size(key)));
    if (!out) {
        snprintf(err, 256, "out of memory");
        goto done;
    }
    n = b64url((const unsigned char *)header, sizeof header - 1, out);
    out[n++] = '.';
    n += b64url((const unsigned char *)payload, len, out + n);
    if (!(md = EVP_MD_CTX_new()) || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1
        || EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)out, n) != 1
        || !(sig = malloc(siglen))
        || EVP_DigestSign(md, sig, &siglen, (const unsigned char *)out, n) != 1) {
        ssl_error(err, "signing failed");
        free(out);
        out = NULL;
        goto done;
    }
    out[n++] = '.';
    n += b64url(sig, siglen, out + n);
    *outlen = n;
done:
    free(sig);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    BIO_free(bio);
    return out;
}
