/* progallery.image: what `progallery import-folder` needs to know about a media file
 * (docs/site.md, "The progallery command"), read by real image libraries, never by a parser
 * of our own:
 *   image.info(path)   -> { format = "jpeg"|"png"|"gif"|"webp", width = w, height = h }
 *                         or nil, message
 *   image.sha256(path) -> the file's SHA-256, 64 lower-case hex digits, or nil, message
 * The format is the one the file's signature names (its name is not trusted); its pixel size
 * comes from stb_image's stbi_info (JPEG, PNG, GIF; Debian libstb) or libwebp's WebPGetInfo.
 * Both read the header only, so a file whose header is sound but whose body is cut short
 * still passes (the browser then shows it broken). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include <stb_image.h>
#include <webp/decode.h>
#include <openssl/evp.h>

#if defined(__GNUC__)
#define PG_EXPORT __attribute__((visibility("default")))
#else
#define PG_EXPORT
#endif

/* The first bytes of a file: enough for every signature, and for WebPGetInfo's header
 * (RIFF, VP8/VP8L/VP8X chunk). */
#define HEAD_BYTES 4096

static const char *signature(const unsigned char *b, size_t n) {
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return "jpeg";
    if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) return "png";
    if (n >= 6 && (memcmp(b, "GIF87a", 6) == 0 || memcmp(b, "GIF89a", 6) == 0)) return "gif";
    if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0) return "webp";
    return NULL;
}

static int fail(lua_State *L, const char *path, const char *why) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, why);
    return 2;
}

static int l_info(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    unsigned char head[HEAD_BYTES];
    const char *format;
    int w = 0, h = 0, comp = 0;
    size_t n;
    FILE *f = fopen(path, "rb");
    if (!f) return fail(L, path, strerror(errno));
    n = fread(head, 1, sizeof head, f);
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        return fail(L, path, strerror(e));
    }
    format = signature(head, n);
    if (!format) {
        fclose(f);
        return fail(L, path, "not a JPEG, PNG, GIF or WebP file");
    }
    if (strcmp(format, "webp") == 0) {
        fclose(f);
        if (!WebPGetInfo(head, n, &w, &h)) return fail(L, path, "unreadable WebP header");
    } else {
        int ok = fseek(f, 0, SEEK_SET) == 0 && stbi_info_from_file(f, &w, &h, &comp);
        fclose(f);
        if (!ok) return fail(L, path, stbi_failure_reason() ? stbi_failure_reason() : "unreadable image header");
    }
    if (w <= 0 || h <= 0) return fail(L, path, "image has no pixels");
    lua_createtable(L, 0, 3);
    lua_pushstring(L, format);
    lua_setfield(L, -2, "format");
    lua_pushinteger(L, w);
    lua_setfield(L, -2, "width");
    lua_pushinteger(L, h);
    lua_setfield(L, -2, "height");
    return 1;
}

static int l_sha256(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    unsigned int len = 0, i;
    size_t n;
    int ok = 1;
    EVP_MD_CTX *ctx;
    FILE *f = fopen(path, "rb");
    if (!f) return fail(L, path, strerror(errno));
    ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) ok = 0;
    while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0)
        if (EVP_DigestUpdate(ctx, buf, n) != 1) ok = 0;
    if (ok && ferror(f)) {
        int e = errno;
        EVP_MD_CTX_free(ctx);
        fclose(f);
        return fail(L, path, strerror(e));
    }
    if (ok && EVP_DigestFinal_ex(ctx, md, &len) != 1) ok = 0;
    EVP_MD_CTX_free(ctx);
    fclose(f);
    if (!ok) return fail(L, path, "SHA-256 failed");
    for (i = 0; i < len; i++) {
        static const char digits[] = "0123456789abcdef";
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    lua_pushlstring(L, hex, 2 * len);
    return 1;
}

static const luaL_Reg funcs[] = {
    { "info", l_info },
    { "sha256", l_sha256 },
    { NULL, NULL },
};

PG_EXPORT int luaopen_progallery_image(lua_State *L) {
#if LUA_VERSION_NUM >= 502
    luaL_newlib(L, funcs);
#else
    lua_newtable(L);
    luaL_register(L, NULL, funcs);
#endif
    return 1;
}
