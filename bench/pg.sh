#!/bin/sh
# make bench, PostgreSQL part (bench/pg.lua): a throwaway PostgreSQL 15 (scripts/pg_test_server.sh),
# raw libpq C (bench/pg_raw.c) and progallery side by side.
set -e
cd "$(dirname "$0")/.."
work=$(mktemp -d /var/tmp/progallery-pgbench.XXXXXX)
pgdir=$(mktemp -d /tmp/pgb.XXXXXX)
trap 'sh scripts/pg_test_server.sh stop "$pgdir"; rm -rf "$work"' EXIT INT TERM
make -s BUILD="$work/build" "$work/build/progallery.so" >/dev/null
cc -O2 -std=c99 -Wall -Wextra -D_POSIX_C_SOURCE=200809L -Isrc -I"$(pg_config --includedir)" \
  -o "$work/pg_raw" bench/pg_raw.c src/ids.c -lpq
dsn=$(sh scripts/pg_test_server.sh start "$pgdir")
LUA_PATH="./lua/?.lua;;" LUA_CPATH="$work/build/?.so;;" lua5.4 bench/pg.lua "$dsn" "$work/pg_raw"
