/* progallery.jwtRS256(pem, payload) -> the compact JWT, or nil, message, code:
 * the webhook signature of spec section 10.5 (src/sign.c does the work). */
#include <stdlib.h>

#include "lua_binding.h"
#include "sign.h"

static int push_text(lua_State *L)
{
    lua_pushlstring(L, (const char *)lua_touserdata(L, 1), (size_t)lua_tointeger(L, 2));
    return 1;
}

static int l_jwt_rs256(lua_State *L)
{
    size_t pemlen, len, outlen;
    const char *pem = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &pemlen) : NULL;
    const char *payload = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &len) : NULL;
    char err[256], *jwt;
    if (!pem)
        return pg_lua_fail(L, PG_INVALID_ARGUMENT, "key: expected a PEM string");
    if (!payload)
        return pg_lua_fail(L, PG_INVALID_ARGUMENT, "payload: expected a string");
    if (!(jwt = pg_jwt_rs256(pem, pemlen, payload, len, &outlen, err)))
        return pg_lua_fail(L, PG_INVALID_ARGUMENT, err);
    /* pushed under pcall: a memory error must not leak the token */
    lua_settop(L, 0);
    lua_pushcfunction(L, push_text);
    lua_pushlightuserdata(L, jwt);
    lua_pushinteger(L, (lua_Integer)outlen);
    if (lua_pcall(L, 2, 1, 0) != 0) {
        free(jwt);
        return lua_error(L);
    }
    free(jwt);
    return 1;
}

void pg_lua_push_jwt(lua_State *L)
{
    lua_pushcfunction(L, l_jwt_rs256);
}
