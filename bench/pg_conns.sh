#!/bin/sh
# make bench-pg-conns: how many PostgreSQL connections one nginx node holds, and what its
# uncached GETs reach, against the size of the thread pool (issue #13: "connections bounded
# per worker: a shared pool or one per thread: measure and say which"; docs/engines.md).
# One throwaway PostgreSQL 15 (scripts/pg_test_server.sh), one node (scripts/serve.sh with
# PROGALLERY_DSN, PROGALLERY_CACHE=off, 2 workers) per thread count, a 50-item gallery; wrk
# GETs it for BENCH_PG_SECS (5) with BENCH_PG_CONNS (32) connections while psql samples the
# client backends of the node's database every 0.2 s.
# Environment: BENCH_PG_THREADS ("1 2 4 8"), BENCH_PG_SECS, BENCH_PG_CONNS.
set -eu
cd "$(dirname "$0")/.."
THREADS=${BENCH_PG_THREADS:-"1 2 4 8"}
SECS=${BENCH_PG_SECS:-5}
CONNS=${BENCH_PG_CONNS:-32}
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
sh scripts/deps.sh all
command -v wrk >/dev/null 2>&1 ||
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends wrk >/dev/null
make -s all luajit >/dev/null

work=$(mktemp -d /tmp/progallery-pgconns.XXXXXX)
pgdir=$(mktemp -d /tmp/pgc.XXXXXX)
chmod 755 "$work"
cleanup() { sh scripts/serve.sh stop >/dev/null 2>&1 || true; sh scripts/pg_test_server.sh stop "$pgdir"; rm -rf "$work"; }
trap cleanup EXIT INT TERM
dsn=$(sh scripts/pg_test_server.sh start "$pgdir")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export PORT=$port PROGALLERY_SERVE_DIR=$work PROGALLERY_ADMIN_KEY=bench-pg PROGALLERY_NO_DEPS=1
export PROGALLERY_DSN=$dsn PROGALLERY_CACHE=off PROGALLERY_WORKERS=2

gid=$(BENCH_DSN=$dsn LUA_PATH="./lua/?.lua;;" LUA_CPATH="./build/?.so;;" lua5.4 -e '
  local s = assert(require("progallery").open { dsn = os.getenv("BENCH_DSN"), caller = "admin" })
  local items = {}
  for i = 1, 50 do items[i] = { title = "t" .. i, image = { imageInfo =
    "wix:image://v1/9e6ea4_650d8cd45f7545c4b39178feb0ee8c70~mv2.jpg/300.jpg#originWidth=200&originHeight=300" } } end
  print(assert(s:createGallery { gallery = { name = "bench", items = items } })._id)')
# the server's own sessions (this script's psql, replication) are not the node's
count() { psql -qAt "$dsn" -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"; }

printf '%-8s %12s %18s %18s\n' threads "GET/s" "connections (peak)" "after the load"
for t in $THREADS; do
  PROGALLERY_THREADS=$t sh scripts/serve.sh start >/dev/null
  url="http://127.0.0.1:$port/progallery/v2/galleries/$gid?itemLimit=50"
  curl -s -o /dev/null "$url"
  wrk -t2 -c"$CONNS" -d"${SECS}s" "$url" >"$work/wrk.txt" &
  wpid=$!
  peak=0
  while kill -0 "$wpid" 2>/dev/null; do
    n=$(count)
    [ "$n" -gt "$peak" ] && peak=$n
    sleep 0.2
  done
  wait "$wpid"
  rate=$(awk '/Requests\/sec/ { print $2 }' "$work/wrk.txt")
  printf '%-8s %12s %18s %18s\n' "$t" "$rate" "$peak" "$(count)"
  sh scripts/serve.sh stop >/dev/null
  sleep 1
done
