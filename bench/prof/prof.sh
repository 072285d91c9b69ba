#!/bin/sh
# Instruction profile (callgrind) of one focused script, on a private build of the module:
#   sh bench/prof/prof.sh create_item|create_items|get_gallery|moves [pg|peer]
# Prints the inclusive cost of progallery's functions; the full profile stays in
# $PROF_DIR/callgrind.<name>.out (PROF_DIR defaults to /var/tmp/progallery-prof).
set -e
cd "$(dirname "$0")/../.."
name=${1:?script name}
dir=${PROF_DIR:-/var/tmp/progallery-prof}
mkdir -p "$dir"
make -s BUILD="$dir/build" "$dir/build/progallery.so" >/dev/null
cc -O2 -std=c99 -shared -fPIC $(pkg-config --cflags lua5.4) -o "$dir/benchclock.so" bench/benchclock.c
LUA_PATH="./bench/?.lua;./lua/?.lua;;" LUA_CPATH="$dir/build/?.so;$dir/?.so;;" \
  valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.$name.out" \
  lua5.4 "bench/prof/$name.lua" "$dir" "${2:-pg}" 2>&1 | grep "refs"
callgrind_annotate --auto=no --inclusive=yes "$dir/callgrind.$name.out" 2>/dev/null \
  | grep -E "progallery.so|src/|push_value|read_value|call_api" | grep -v "'[0-9]" | head -40
