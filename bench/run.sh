#!/bin/sh
# make bench: progallery against raw SQLite C and a LuaSQL peer, side by side.
# Needs: build-essential pkg-config lua5.4 liblua5.4-dev libsqlite3-dev lua-cjson lua-sql-sqlite3
# Environment: BENCH_REPS (7), BENCH_SCALE_REPS (5), BENCH_RSS_CALLS (1000000),
#              BENCH_DIR (a scratch directory on the disk to measure; default: mktemp -d).
set -e
cd "$(dirname "$0")/.."
for p in lua-sql-sqlite3 lua-cjson libsqlite3-dev liblua5.4-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "bench: installing:$missing" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
if [ -n "$BENCH_DIR" ]; then
  work="$BENCH_DIR"; mkdir -p "$work"
else
  work="$(mktemp -d /var/tmp/progallery-bench.XXXXXX)"
  trap 'rm -rf "$work"' EXIT INT TERM
fi
# A private build, so that a concurrent `make` in the checkout cannot swap the module mid-run.
make -s BUILD="$work/build" "$work/build/progallery.so" >/dev/null
cc -O2 -std=c99 -Wall -Wextra -o "$work/raw" -Isrc bench/raw.c src/ids.c src/walbuf.c -lsqlite3 -lpthread
for m in benchclock prof/marshal_floor; do
  cc -O2 -std=c99 -Wall -shared -fPIC $(pkg-config --cflags lua5.4) -o "$work/$(basename $m).so" "bench/$m.c"
done
LUA_PATH="./bench/?.lua;./lua/?.lua;;" LUA_CPATH="$work/build/?.so;$work/?.so;;" \
  lua5.4 bench/bench.lua "$work" bench
# webhook delivery (issue #12): needs nginx and node, as the test suite does
if command -v node >/dev/null 2>&1 && [ -x /usr/sbin/nginx ] && [ -z "${BENCH_ONLY:-}" ]; then
  echo
  sh bench/webhooks.sh
fi
# PostgreSQL (issue #13): the postgres engine against raw libpq C on a throwaway server
if [ -x /usr/lib/postgresql/15/bin/initdb ] && [ -z "${BENCH_ONLY:-}" ]; then
  echo
  sh bench/pg.sh
fi
