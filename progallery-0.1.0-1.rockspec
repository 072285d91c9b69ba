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
   OPENSSL = { header = "openssl/evp.h", library = "crypto" },
   -- libpq (Debian: libpq-dev), for the postgres engine; its header is under postgresql/
   PQ = { header = "postgresql/libpq-fe.h", library = "pq" },
   -- liblz4 (Debian: liblz4-dev): the SQLite engine stores event chunks compressed
   LZ4 = { header = "lz4.h", library = "lz4" },
}
-- The Makefile builds and installs everything: the C sources, the version and the Lua
-- modules are listed there only. LuaJIT's headers come after LuaRocks' own Lua headers,
-- as a fallback for --lua-version=5.1 when no Lua 5.1 headers exist.
build = {
   type = "make",
   -- a fresh build of its own: one source tree may build a rock for each ABI in turn
   build_target = "rock",
   variables = { BUILD = "build-rock" },
   build_variables = {
      CFLAGS = "$(CFLAGS)",
      LIBFLAG = "$(LIBFLAG)",
      LUA_CFLAGS = "-I$(LUA_INCDIR) -I/usr/include/luajit-2.1",
      SQLITE_INCDIR = "$(SQLITE_INCDIR)",
      SQLITE_LIBDIR = "$(SQLITE_LIBDIR)",
      PQ_CFLAGS = "-I$(PQ_INCDIR)/postgresql",
      PQ_LIBS = "-L$(PQ_LIBDIR) -lpq",
      LZ4_CFLAGS = "-I$(LZ4_INCDIR)",
      LZ4_LIBS = "-L$(LZ4_LIBDIR) -llz4",
   },
   install_variables = {
      LIBDIR = "$(LIBDIR)",
      LUADIR = "$(LUADIR)",
      -- the progallery command (bin/progallery, Lua 5.4)
      BINDIR = "$(BINDIR)",
   },
}
-- Debian's lua-busted is not a rock, so the tests run through make.
test = { type = "command", command = "make check" }
