rockspec_format = "3.0"
package = "progallery"
version = "0.1.0-1"
source = {
   url = "git+https://example.invalid/progallery.git",
   tag = "v0.1.0",
}
description = {
   summary = "The Wix Pro Gallery backend API as a Lua library: C core, SQLite storage",
   detailed = [[
      require "progallery" gives createGallery, getGallery, listGalleries, updateGallery,
      deleteGallery, the gallery item functions, cloning, permission checks with elevate(),
      and helpers that turn backend items into $w.Gallery items. Lua 5.4 and LuaJIT/OpenResty.
   ]],
   license = "MIT",
}
dependencies = { "lua >= 5.1" }
external_dependencies = {
   SQLITE = { header = "sqlite3.h", library = "sqlite3" },
}
build = {
   type = "builtin",
   modules = {
      progallery = {
         sources = {
            "src/value.c", "src/status.c", "src/ids.c", "src/model.c",
            "src/storage_sqlite.c", "src/api.c",
            "src/lua_value.c", "src/lua_auth.c", "src/lua_json.c", "src/lprogallery.c",
         },
         -- LuaJIT's headers as a fallback for --lua-version=5.1 when no Lua 5.1 headers exist
         -- (the Lua headers LuaRocks picks, -I$(LUA_INCDIR), always come first)
         incdirs = { "src", "$(SQLITE_INCDIR)", "/usr/include/luajit-2.1" },
         libdirs = { "$(SQLITE_LIBDIR)" },
         libraries = { "sqlite3", "m" },
      },
      ["progallery.auth"] = "lua/progallery/auth.lua",
      ["progallery.uri"] = "lua/progallery/uri.lua",
      ["progallery.frontend"] = "lua/progallery/frontend.lua",
      ["progallery.rest"] = "lua/progallery/rest.lua",
      ["progallery.http"] = "lua/progallery/http.lua",
      ["progallery.http.json"] = "lua/progallery/http/json.lua",
      ["progallery.http.errors"] = "lua/progallery/http/errors.lua",
      ["progallery.http.router"] = "lua/progallery/http/router.lua",
      ["progallery.http.auth"] = "lua/progallery/http/auth.lua",
      ["progallery.http.ops"] = "lua/progallery/http/ops.lua",
      ["progallery.http.thread"] = "lua/progallery/http/thread.lua",
      ["progallery.http.cache"] = "lua/progallery/http/cache.lua",
   },
}
-- Debian's lua-busted is not a rock, so the tests run through make.
test = { type = "command", command = "make check" }
