#!/bin/sh
# Marshalling floor of createGalleryItems(1,000) against raw C and progallery (floor.lua).
#   sh bench/prof/floor.sh
set -e
cd "$(dirname "$0")/../.."
dir=${PROF_DIR:-/var/tmp/progallery-prof}
mkdir -p "$dir"
make -s BUILD="$dir/build" "$dir/build/progallery.so" >/dev/null
cc -O2 -std=c99 -o "$dir/raw" -Isrc bench/raw.c src/ids.c src/walbuf.c -lsqlite3 -lpthread
for m in benchclock prof/marshal_floor; do
  cc -O2 -std=c99 -shared -fPIC $(pkg-config --cflags lua5.4) -o "$dir/$(basename $m).so" "bench/$m.c"
done
export LUA_PATH="./bench/?.lua;./lua/?.lua;;" LUA_CPATH="$dir/build/?.so;$dir/?.so;;"
rm -f "$dir/empty.db" "$dir/empty.db-wal" "$dir/empty.db-shm"
gid=$(DB="$dir/empty.db" lua5.4 -e '
  local common = require "common"
  local s = common.open("pg", os.getenv("DB"), "normal")
  local g = assert(s:createGallery{ gallery = { name = "bench" } })
  local t = assert(s:createGallery{ gallery = { name = "doc", items = { common.item } } })
  io.write(g._id)
  s:close()')
sqlite3 "$dir/empty.db" "SELECT doc FROM items LIMIT 1" >"$dir/doc.json"
lua5.4 bench/prof/floor.lua "$dir" "$gid"
