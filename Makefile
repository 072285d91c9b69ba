# progallery: C core + Lua binding + pure-Lua helpers.
#   make                 build build/progallery.so for Lua 5.4
#   make luajit          build build-luajit/progallery.so (LuaJIT / OpenResty ABI)
#   make test            the fast specs on Lua 5.4 (no nginx, no npm): seconds
#   make test-nginx      the HTTP specs: real nginx, the official Wix SDK
#   make check           the whole test suite (what .ci/run runs, via scripts/test.sh)
#   make bench           side-by-side benchmark against raw SQLite C and a LuaSQL peer, and PostgreSQL against raw libpq
#   make bench-http      GET through nginx + progallery.http against the same body as a static file
#   make bench-site      the page (API vs static JSON) in chromium, the resize path vs static files
#   make bench-webhooks  webhook delivery through nginx: events/s and commit-to-receipt lag
#   make bench-pg-conns  PostgreSQL connections of one nginx node, and its GET/s, by thread-pool size
#   make serve           nginx + progallery.http + the pages on 127.0.0.1:8080 (make serve-stop)
#   make web             bundle the pages (web/, npm pro-gallery) into build/web
#   make fuzz            the reliability harnesses and fuzzers for FUZZ_SECONDS (default 1800)
#   make install         install into PREFIX (or LIBDIR/LUADIR, as LuaRocks passes them)
# Override anything on the command line: make LUA_VERSION=5.4 CFLAGS=-O0 ...
LUA_VERSION ?= 5.4
LUA_PC      ?= lua$(LUA_VERSION)
PKG_CONFIG  ?= pkg-config
BUSTED      ?= busted

ifdef LUA_INCDIR
LUA_CFLAGS ?= -I$(LUA_INCDIR)
else
LUA_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags $(LUA_PC))
endif
ifdef SQLITE_INCDIR
SQLITE_CFLAGS ?= -I$(SQLITE_INCDIR)
endif
ifdef SQLITE_LIBDIR
SQLITE_LIBS ?= -L$(SQLITE_LIBDIR) -lsqlite3
else
SQLITE_LIBS ?= -lsqlite3
endif

# PostgreSQL's client library (libpq-dev): the postgres engine (src/storage_postgres.c).
PQ_CFLAGS ?= -I$(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
PQ_LIBS   ?= -lpq

# LZ4 (liblz4-dev): the SQLite engine's event chunks are stored compressed (storage_sqlite.c).
LZ4_LIBS ?= -llz4

# The version is written once, in lua/progallery/version.lua.
VERSION := $(shell sed -n 's/^return "\(.*\)"$$/\1/p' lua/progallery/version.lua)

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    ?= -std=c99 -Wall -Wextra -pedantic -Wshadow -Wno-overlength-strings
PIC      = -fPIC
# Only luaopen_progallery is exported (PG_EXPORT); every other symbol stays inside the module.
DEFS     = -DPG_HAVE_POSTGRES -fvisibility=hidden -DPG_VERSION='"$(VERSION)"'
LIBFLAG ?= -shared
# Never link liblua/libluajit into the module: the host (lua, nginx) provides it.
# libcrypto: the RS256 signatures of webhooks (src/sign.c)
CRYPTO_LIBS ?= -lcrypto
LIBS     = $(SQLITE_LIBS) $(PQ_LIBS) $(LZ4_LIBS) $(CRYPTO_LIBS) -lm

PREFIX   ?= /usr/local
LIBDIR   ?= $(PREFIX)/lib/lua/$(LUA_VERSION)
LUADIR   ?= $(PREFIX)/share/lua/$(LUA_VERSION)
BINDIR   ?= $(PREFIX)/bin

BUILD   ?= build
CORE     = arena strbuf value utf8 json status ids media model rest events sign query query_sql storage walbuf storage_sqlite storage_postgres pq_pool api move restore
BINDING  = lua_value lua_auth lua_json lua_rest lua_jwt lprogallery
OBJS     = $(patsubst %,$(BUILD)/%.o,$(CORE) $(BINDING))
HEADERS  = $(wildcard src/*.h)
SO       = $(BUILD)/progallery.so
# progallery.image (src/lua_image.c): image sizes and content hashes for the progallery
# command, from Debian's libstb-dev, libwebp-dev and libssl-dev; a module of its own, so the
# core needs none of them.
IMAGE_SO     = $(BUILD)/progallery/image.so
IMAGE_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags stb libwebp libcrypto)
IMAGE_LIBS   ?= $(shell $(PKG_CONFIG) --libs stb libwebp libcrypto)

.PHONY: print-core all rock luajit check test test-nginx install clean bench bench-http bench-webhooks serve serve-stop fuzz web bench-site bench-pg-conns

all: $(SO) $(IMAGE_SO)

# The core's sources, for harnesses that build parts of it (reliability/fuzz.sh).
print-core:
	@echo $(CORE)

$(BUILD)/%.o: src/%.c $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) -Isrc $(LUA_CFLAGS) $(SQLITE_CFLAGS) $(PQ_CFLAGS) $(LZ4_CFLAGS) $(PIC) $(DEFS) $(CFLAGS) $(WARN) -c $< -o $@

$(SO): $(OBJS)
	$(CC) $(LIBFLAG) $(LDFLAGS) -o $@ $(OBJS) $(LIBS)

$(IMAGE_SO): src/lua_image.c
	@mkdir -p $(BUILD)/progallery
	$(CC) $(LUA_CFLAGS) $(IMAGE_CFLAGS) $(PIC) -fvisibility=hidden $(CFLAGS) $(WARN) $(LIBFLAG) $(LDFLAGS) \
	  -o $@ $< $(IMAGE_LIBS)

# What the rockspec builds: from scratch, since the last rock may have been for another ABI.
rock:
	rm -rf $(BUILD)
	$(MAKE) all

luajit:
	$(MAKE) BUILD=build-luajit LUA_PC=luajit

check:
	sh scripts/test.sh

test: $(SO)
	$(BUSTED) --exclude-tags=nginx

test-nginx: $(SO) luajit
	$(BUSTED) --tags=nginx

bench:
	sh bench/run.sh

bench-http:
	sh bench/http.sh

bench-site:
	sh bench/site.sh

bench-webhooks:
	sh bench/webhooks.sh

bench-pg-conns:
	sh bench/pg_conns.sh

serve: luajit web
	sh scripts/serve.sh start

web:
	sh scripts/web.sh

serve-stop:
	sh scripts/serve.sh stop

FUZZ_SECONDS ?= 1800
fuzz: all
	bash reliability/run.sh long $(FUZZ_SECONDS)

install: $(SO) $(IMAGE_SO)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(LUADIR)/progallery $(DESTDIR)$(LUADIR)/progallery/http
	install -m 0755 $(SO) $(DESTDIR)$(LIBDIR)/progallery.so
	install -d $(DESTDIR)$(LIBDIR)/progallery
	install -m 0755 $(IMAGE_SO) $(DESTDIR)$(LIBDIR)/progallery/image.so
	install -m 0644 lua/progallery/*.lua $(DESTDIR)$(LUADIR)/progallery/
	install -m 0644 lua/progallery/http/*.lua $(DESTDIR)$(LUADIR)/progallery/http/
	install -d $(DESTDIR)$(LUADIR)/progallery/cli $(DESTDIR)$(BINDIR)
	install -m 0644 lua/progallery/cli/*.lua $(DESTDIR)$(LUADIR)/progallery/cli/
	install -m 0755 bin/progallery $(DESTDIR)$(BINDIR)/progallery

clean:
	rm -rf build build-* *.so src/*.o
