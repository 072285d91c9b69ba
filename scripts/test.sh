#!/bin/sh
# The whole test suite, from a fresh Debian 12 machine: installs what it needs,
# builds every variant, runs the busted specs on Lua 5.4 (with the nginx/HTTP
# and official-SDK specs), again on Lua 5.4 against a throwaway PostgreSQL 15
# (and the PostgreSQL specs on LuaJIT), on LuaJIT and on a build with AddressSanitizer +
# UBSan, smoke scripts under valgrind, the LuaRocks rock for Lua 5.4 and
# LuaJIT, a short round of every reliability
# harness (many writers, crashes, full disk, fuzzers), and ends with one line
# "N passed, N failed" summed over every run. The site's browser spec (spec/site_spec.lua,
# chromium) saves its screenshots in build/test-output (or $PROGALLERY_TEST_OUT).
set -u
case "${1:-}" in
  -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  ?*) echo "test: takes no arguments (try --help)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
ROOT=$(pwd)
sh scripts/deps.sh all || { echo "deps: install failed"; echo "0 passed, 1 failed"; exit 1; }

OUT=$(mktemp -d)
PGDIR=""
trap 'rm -rf "$OUT"; [ -n "$PGDIR" ] && sh scripts/pg_test_server.sh stop "$PGDIR"' EXIT
export PROGALLERY_TEST_OUT="${PROGALLERY_TEST_OUT:-$ROOT/build/test-output}"
PASSED=0
FAILED=0
SKIPPED=0
# what failed, repeated just before the last line: a long log is often read only at its two ends
RECAP="$OUT/recap"
: >"$RECAP"

step() { printf '\n== %s\n' "$*"; }

# Counts a TAP stream (busted -o TAP): prints failures, adds to the totals. A
# pending test is "ok ... # SKIP": skipped, not passed.
count_tap() {
  name=$1 file=$2 status=$3
  k=$(grep -c '^ok .*# SKIP' "$file")
  p=$(($(grep -c '^ok ' "$file") - k))
  f=$(grep -c '^not ok ' "$file")
  if [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$k" -eq 0 ] || { [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; }; then
    # the runner died before reporting (crash, sanitizer abort, load error)
    f=$((f + 1))
    echo "$name: runner exited with status $status"; tail -n 30 "$file"
    echo "$name: runner exited with status $status" >>"$RECAP"
  fi
  awk -v n="$name" '/^not ok /{print n ": " $0}' "$file" >>"$RECAP"
  grep -A 12 '^not ok ' "$file" | head -n 200
  grep '^ok .*# SKIP' "$file" | head -n 20
  echo "$name: $p passed, $f failed, $k skipped"
  PASSED=$((PASSED + p)); FAILED=$((FAILED + f)); SKIPPED=$((SKIPPED + k))
}

# Adds one pass or one failure for a non-busted check.
record() {
  name=$1 status=$2 log=$3
  if [ "$status" -eq 0 ]; then PASSED=$((PASSED + 1)); echo "$name: ok"
  else FAILED=$((FAILED + 1)); echo "$name: FAILED"; tail -n 40 "$log"
    { echo "$name: FAILED"; tail -n 15 "$log"; } >>"$RECAP"; fi
}

step "build (Lua 5.4, LuaJIT)"
make -s all >"$OUT/build.log" 2>&1 && make -s luajit >>"$OUT/build.log" 2>&1
record build $? "$OUT/build.log"

step "busted on Lua 5.4 (with the nginx and Wix SDK specs)"
busted --exclude-tags=postgres -o TAP >"$OUT/lua54.tap" 2>"$OUT/lua54.err"; s=$?
count_tap "lua5.4" "$OUT/lua54.tap" $s

step "busted on Lua 5.4 against PostgreSQL 15 (every engine-independent spec, and the PostgreSQL ones; then those on LuaJIT)"
PGDIR=$(mktemp -d /tmp/pgt.XXXXXX)
if dsn=$(sh scripts/pg_test_server.sh start "$PGDIR" 2>"$OUT/pg.log"); then
  PROGALLERY_TEST_ENGINE=postgres PROGALLERY_TEST_DSN="$dsn" \
    busted --exclude-tags=nginx,sqlite -o TAP >"$OUT/pg54.tap" 2>"$OUT/pg54.err"; s=$?
  count_tap "postgres lua5.4" "$OUT/pg54.tap" $s
  PROGALLERY_TEST_DSN="$dsn" busted --run=luajit --tags=postgres -o TAP >"$OUT/pgjit.tap" 2>"$OUT/pgjit.err"; s=$?
  count_tap "postgres luajit" "$OUT/pgjit.tap" $s
  sh scripts/pg_test_server.sh stop "$PGDIR"
else
  record "postgres server (scripts/pg_test_server.sh)" 1 "$OUT/pg.log"
fi
PGDIR=""

step "busted on LuaJIT"
busted --run=luajit --exclude-tags=nginx,postgres -o TAP >"$OUT/luajit.tap" 2>"$OUT/luajit.err"; s=$?
count_tap "luajit" "$OUT/luajit.tap" $s

step "busted on Lua 5.4 with AddressSanitizer + UBSan"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
make -s BUILD=build-asan CFLAGS="-O1 -g $SAN" LDFLAGS="$SAN" >"$OUT/asan-build.log" 2>&1
record asan-build $? "$OUT/asan-build.log"
LIBASAN=$(gcc -print-file-name=libasan.so)
LD_PRELOAD="$LIBASAN" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  busted --cpath="./build-asan/?.so" --exclude-tags=nginx,postgres -o TAP >"$OUT/asan.tap" 2>"$OUT/asan.err"; s=$?
grep -E 'ERROR: AddressSanitizer|runtime error' "$OUT/asan.err" && s=1
count_tap "asan+ubsan" "$OUT/asan.tap" $s

step "valgrind memcheck (examples/quickstart.lua and spec/smoke.lua)"
for script in examples/quickstart.lua spec/smoke.lua; do
  [ -f "$script" ] || continue
  LUA_PATH="./lua/?.lua;;" LUA_CPATH="./build/?.so;;" PROGALLERY_DB="$OUT/vg.db" \
    valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
    lua5.4 "$script" "$OUT/vg-$(basename "$script").db" >"$OUT/vg.log" 2>&1
  record "valgrind $script" $? "$OUT/vg.log"
done

step "the rock: luarocks make for Lua 5.4 and for LuaJIT (5.1 ABI), then spec/smoke.lua and spec/rock_check.lua on each"
# in a copy of the tracked files, so the checkout stays clean of LuaRocks' build output
rock="$OUT/rock"
mkdir -p "$rock/src"
git ls-files -z | (cd "$ROOT" && xargs -0 tar cf -) | tar xf - -C "$rock/src" 2>/dev/null ||
  cp -r "$ROOT/." "$rock/src"
for v in 5.4 5.1; do
  interp=lua5.4; [ "$v" = 5.1 ] && interp=luajit
  log="$OUT/rock-$v.log"
  ( cd "$rock/src" && luarocks --lua-version=$v make --tree "$rock/tree-$v" progallery-*.rockspec ) >"$log" 2>&1 &&
  LUA_PATH="$rock/tree-$v/share/lua/$v/?.lua;;" LUA_CPATH="$rock/tree-$v/lib/lua/$v/?.so;;" \
    $interp spec/smoke.lua "$OUT/rock-$v.db" >>"$log" 2>&1 &&
  LUA_PATH="$rock/tree-$v/share/lua/$v/?.lua;;" LUA_CPATH="$rock/tree-$v/lib/lua/$v/?.so;;" \
    $interp spec/rock_check.lua "$rock/tree-$v/share/lua/$v" progallery-*.rockspec >>"$log" 2>&1
  record "rock $v ($interp)" $? "$log"
done

step "reliability harnesses (quick round: reliability/run.sh quick)"
bash reliability/run.sh quick >"$OUT/rel.log" 2>&1; s=$?
cat "$OUT/rel.log" | grep -vE '^reliability: [0-9]+ passed'
line=$(grep -E '^reliability: [0-9]+ passed, [0-9]+ failed' "$OUT/rel.log" | tail -n 1)
if [ -n "$line" ]; then
  p=$(echo "$line" | sed -E 's/^reliability: ([0-9]+) passed.*/\1/')
  f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
  [ "$s" -ne 0 ] && [ "$f" -eq 0 ] && f=1
  echo "reliability: $p passed, $f failed"
  PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
  grep -A 36 ': FAILED (status' "$OUT/rel.log" | head -n 80 >>"$RECAP"
else
  record reliability 1 "$OUT/rel.log"
fi

if [ -s "$RECAP" ]; then step "what failed (again, from above)"; cat "$RECAP"; fi
echo
if [ "$SKIPPED" -gt 0 ]; then echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
else echo "$PASSED passed, $FAILED failed"; fi
[ "$FAILED" -eq 0 ]
