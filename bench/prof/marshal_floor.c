/* The floor of createGalleryItems' Lua marshalling: the least any binding that
 * takes and returns Lua tables must do for a batch, with no SQL, validation,
 * JSON or id generation. It is written to be optimistic, so that "raw C + this"
 * is an upper bound on what any binding can reach:
 *   - read: one lua_next walk over every input item, touching each string and
 *     number without copying it;
 *   - build: the result array of the same items plus _id, type, sortOrder,
 *     _createdDate, _updatedDate, as fresh tables (pre-sized) that reuse the
 *     input's string objects (no new string but the per-item id, one date
 *     string shared by the whole batch).
 * Used by `make bench` (bench/worker.lua, "floor") and bench/prof/floor.lua. */
#include <lauxlib.h>
#include <lua.h>
#include <string.h>

static size_t touched; /* read results land here, so the reads cannot be optimised away */

static void walk(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        size_t n;
        if (lua_type(L, -2) == LUA_TSTRING) {
            lua_tolstring(L, -2, &n);
            touched += n;
        }
        switch (lua_type(L, -1)) {
        case LUA_TSTRING: lua_tolstring(L, -1, &n); touched += n; break;
        case LUA_TNUMBER: touched += (size_t)lua_tonumber(L, -1); break;
        case LUA_TTABLE: walk(L, -1); break;
        default: break;
        }
        lua_pop(L, 1);
    }
}

/* Pushes a copy of the table at idx with room for `extra` more names. */
static void copy(lua_State *L, int idx, int extra)
{
    int nrec = 0;
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        nrec++;
        lua_pop(L, 1);
    }
    lua_createtable(L, (int)lua_rawlen(L, idx), nrec + extra);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pushvalue(L, -2);
        if (lua_type(L, -2) == LUA_TTABLE)
            copy(L, -2, 0);
        else
            lua_pushvalue(L, -2); /* the input's own string or number */
        lua_rawset(L, -5);
        lua_pop(L, 1);
    }
}

/* roundtrip(items) -> result array */
static int l_roundtrip(lua_State *L)
{
    lua_Integer i, n = (lua_Integer)lua_rawlen(L, 1);
    char id[] = "01a21eec-3e0f-7286-ac00-744d6518ca0f";
    static const char hex[] = "0123456789abcdef";
    lua_pushliteral(L, "2026-11-27T21:32:08.591Z"); /* index 2: the batch's date */
    for (i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        walk(L, -1);
        lua_pop(L, 1);
    }
    lua_createtable(L, (int)n, 0);
    for (i = 1; i <= n; i++) {
        int k;
        lua_rawgeti(L, 1, i);
        copy(L, -1, 5);
        for (k = 0; k < 4; k++) /* a distinct id per item, as a real binding returns */
            id[35 - k] = hex[(i >> (4 * k)) & 15];
        lua_pushlstring(L, id, sizeof id - 1);
        lua_setfield(L, -2, "_id");
        lua_pushliteral(L, "IMAGE");
        lua_setfield(L, -2, "type");
        lua_pushinteger(L, 1795815128591 + i);
        lua_setfield(L, -2, "sortOrder");
        lua_pushvalue(L, 2);
        lua_setfield(L, -2, "_createdDate");
        lua_pushvalue(L, 2);
        lua_setfield(L, -2, "_updatedDate");
        lua_rawseti(L, -3, i);
        lua_pop(L, 1);
    }
    return 1;
}

int luaopen_marshal_floor(lua_State *L)
{
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, l_roundtrip);
    lua_setfield(L, -2, "roundtrip");
    return 1;
}
