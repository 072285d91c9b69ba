/* Lua memory errors inside progallery calls. A host for Lua 5.4 whose
 * allocator fails the k-th growing allocation after it is armed; for k = 1, 2,
 * ... it arms, runs createGalleryItems (20 items), getGallery and an elevated
 * createGalleryItems through a visitor view, disarms, and checks that the
 * store still answers (not left "busy"), that the gallery holds whole batches
 * only, that the visitor can no longer write, and that the process is alive. It stops when a
 * call makes fewer than k allocations.
 *   lua_oom MODULE_DIR DB_PATH        (prints one "lua-oom: ..." line; exit 1 on a failure)
 * Built by reliability/run.sh against liblua5.4 (plain and with ASan+UBSan). */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>

static long countdown; /* > 0: armed; the allocation that brings it to 0 fails */
static long burst;     /* and so do this many growing ones after it (< 0: all, until
                        * disarmed: memory stays short; Lua collects and retries once) */
static int fired;

static void *alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    /* Lua requires shrinking never to fail; a new block has ptr NULL */
    if (ptr == NULL || nsize > osize) {
        if (countdown > 0 && --countdown == 0) {
            fired = 1;
            return NULL;
        }
        if (fired && burst != 0) {
            if (burst > 0)
                burst--;
            return NULL;
        }
    }
    return realloc(ptr, nsize);
}

/* oom_call(k, n, f, ...) -> fired, ok, f's results or the error: f runs under
 * lua_pcall with its k-th growing allocation failing, and the n after it (n < 0:
 * all of them). Arming happens here, so the caller's own frame never fails. */
static int l_oom_call(lua_State *L)
{
    long k = (long)luaL_checkinteger(L, 1);
    int status, was;
    burst = (long)luaL_checkinteger(L, 2);
    luaL_checktype(L, 3, LUA_TFUNCTION);
    luaL_checkstack(L, 8, NULL);
    fired = 0;
    countdown = k;
    status = lua_pcall(L, lua_gettop(L) - 3, 3, 0);
    was = fired;
    countdown = 0;
    fired = 0;
    lua_pushboolean(L, was);
    lua_pushboolean(L, status == LUA_OK);
    lua_rotate(L, 3, 2);
    return lua_gettop(L) - 2;
}

static const char script[] =
    "local dir, path = ...\n"
    "package.cpath = dir .. '/?.so;' .. package.cpath\n"
    "local progallery = require 'progallery'\n"
    "local s = assert(progallery.open { path = path, caller = 'admin' })\n"
    "local g = assert(s:createGallery { gallery = { name = 'oom' } })\n"
    "local items = {}\n"
    "for i = 1, 20 do\n"
    "  items[i] = { title = 'item ' .. i, description = ('a long description '):rep(4) .. i,\n"
    "    link = { url = 'https://example.com/items/' .. i }, tags = { values = { 'a', 'b' } } }\n"
    "end\n"
    "local n = { ok = 0, returned = 0, raised = 0 }\n"
    "local function count(ok, r, msg, code)\n"
    "  if not ok then n.raised = n.raised + 1 elseif r then n.ok = n.ok + 1 else n.returned = n.returned + 1 end\n"
    "  if ok and not r and code ~= 'INTERNAL' then error(('returned %s %s'):format(tostring(msg), tostring(code))) end\n"
    "end\n"
    "-- an elevated write through a visitor view: whatever fails, elevation ends with the call\n"
    "local visitor = assert(s:as('visitor'))\n"
    "local elevated = progallery.elevate(function() return visitor:createGalleryItems(g._id, items) end)\n"
    "local function denied(k)\n"
    "  local r, msg, code = visitor:createGallery()\n"
    "  if r or code ~= 'PERMISSION_DENIED' then\n"
    "    error(('after a memory error at allocation %d in an elevated call a visitor writes: %s'):format(k, tostring(code)))\n"
    "  end\n"
    "end\n"
    "local points = 0\n"
    "-- memory short from the k-th allocation to the end of the call, then only for two in a row\n"
    "for _, burst in ipairs { -1, 1 } do\n"
    "  local done = { create = false, get = false, elevated = false }\n"
    "  for k = 1, 100000 do\n"
    "    if not done.create then\n"
    "      local fired, ok, r, msg, code = oom_call(k, burst, s.createGalleryItems, s, g._id, items)\n"
    "      done.create = not fired\n"
    "      count(ok, r, msg, code)\n"
    "    end\n"
    "    if not done.get then\n"
    "      local fired, ok, r, msg, code = oom_call(k, burst, s.getGallery, s, g._id, { itemLimit = 100 })\n"
    "      done.get = not fired\n"
    "      count(ok, r, msg, code)\n"
    "    end\n"
    "    if not done.elevated then\n"
    "      local fired, ok, r, msg, code = oom_call(k, burst, elevated)\n"
    "      done.elevated = not fired\n"
    "      count(ok, r, msg, code)\n"
    "      denied(k)\n"
    "    end\n"
    "    local got, msg = s:getGallery(g._id, { itemLimit = 1 })\n"
    "    if not got then error(('after a failure at allocation %d the store answers: %s'):format(k, tostring(msg))) end\n"
    "    if got.totalItems % 20 ~= 0 then error(('part of a batch stored: %d items'):format(got.totalItems)) end\n"
    "    points = points + 1\n"
    "    if done.create and done.get and done.elevated then break end\n"
    "  end\n"
    "end\n"
    "local total = s:getGallery(g._id).totalItems\n"
    "s:close()\n"
    "return ('lua-oom: %d allocation points failed in turn, memory short to the end of the call or for 2 allocations (createGalleryItems of 20, getGallery, an elevated createGalleryItems through a visitor view): '\n"
    "  .. '%d calls succeeded, %d returned INTERNAL, %d raised a memory error; store usable after '\n"
    "  .. 'each, %d batches stored whole, a visitor denied after each elevated call; 0 failures'):format(points, n.ok, n.returned, n.raised, total // 20)\n";

int main(int argc, char **argv)
{
    lua_State *L;
    int status;
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODULE_DIR DB_PATH\n", argv[0]);
        return 2;
    }
    L = lua_newstate(alloc, NULL);
    if (!L)
        return 1;
    luaL_openlibs(L);
    lua_register(L, "oom_call", l_oom_call);
    status = luaL_loadstring(L, script);
    if (status == LUA_OK) {
        lua_pushstring(L, argv[1]);
        lua_pushstring(L, argv[2]);
        status = lua_pcall(L, 2, 1, 0);
    }
    countdown = 0;
    fired = 0;
    if (status != LUA_OK) {
        printf("lua-oom: FAILED: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return 1;
    }
    printf("%s\n", lua_tostring(L, -1));
    lua_close(L);
    return 0;
}
