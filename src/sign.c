/* Why libcrypto from C rather than Debian's lua-luaossl: the module already
 * builds C for both ABIs (Lua 5.4 and LuaJIT) from one Makefile, one function
 * (EVP_DigestSign) is all that is needed, and the webhook path then has no
 * extra Lua package to install or keep in step with two Lua versions. */
#include "sign.h"

#include <openssl/err.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
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

size_t pg_b64url(const unsigned char *in, size_t n, char *out)
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

static size_t b64url(const unsigned char *in, size_t n, char *out) { return pg_b64url(in, n, out); }

static size_t b64_room(size_t n) { return 4 * ((n + 2) / 3) + 1; }

static int b64url_digit(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26
         : c >= '0' && c <= '9' ? c - '0' + 52 : c == '-' ? 62 : c == '_' ? 63 : -1;
}

/* Strict: the alphabet only, no padding, no length that no encoding has, and
 * no stray bits in the last digit (so one text stands for one byte string). */
long pg_b64url_decode(const char *in, size_t n, unsigned char *out)
{
    size_t i, o = 0;
    unsigned acc = 0;
    int bits = 0;
    if (n % 4 == 1)
        return -1;
    for (i = 0; i < n; i++) {
        int d = b64url_digit((unsigned char)in[i]);
        if (d < 0)
            return -1;
        acc = (acc << 6) | (unsigned)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return acc ? -1 : (long)o;
}

int pg_hmac_sha256(const unsigned char *key, size_t keylen, const unsigned char *msg, size_t len,
                   unsigned char out[32])
{
    unsigned int n = 0;
    return HMAC(EVP_sha256(), key, (int)keylen, msg, len, out, &n) != NULL && n == 32;
}

int pg_same_bytes(const void *a, const void *b, size_t n) { return CRYPTO_memcmp(a, b, n) == 0; }

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
