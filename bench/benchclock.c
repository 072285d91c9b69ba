/* The benchmark's stopwatch for Lua: CLOCK_MONOTONIC wall time in seconds
 * (os.clock is CPU time and would hide fsync waits). Harness only: neither
 * progallery nor the LuaSQL peer uses it. */
#define _POSIX_C_SOURCE 200809L
#include <lauxlib.h>
#include <lua.h>
#include <time.h>

static int l_now(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

int luaopen_benchclock(lua_State *L)
{
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, l_now);
    lua_setfield(L, -2, "now");
    return 1;
}
