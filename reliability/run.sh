#!/bin/bash
# Reliability and security harnesses of progallery (see docs/reliability.md).
#   reliability/run.sh quick            a short bounded round of each (~2-3 min on 2 cores)
#   reliability/run.sh long [seconds]   a soak of about that many seconds in total (default 1800)
# Each harness prints a one-line summary (rounds/calls/failures); the script
# ends with "reliability: N passed, N failed" and exits non-zero on any failure.
# Environment: RELIABILITY_ONLY="crash fuzz-c" runs only those harnesses.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
export PG_ROOT=$ROOT
cd "$ROOT"
MODE=${1:-quick}
case "$MODE" in
  quick) SECS=0 ;;
  long) SECS=${2:-1800} ;;
  *) echo "usage: $0 quick | long [seconds]" >&2; exit 2 ;;
esac
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PASSED=0; FAILED=0
run() { # name, command...
  local name=$1; shift
  case " ${RELIABILITY_ONLY:-$name} " in *" $name "*) ;; *) return 0 ;; esac
  local t0=$(date +%s)
  "$@" >"$TMP/out" 2>"$TMP/err"
  local s=$?
  grep -E '^(many-writers|crash|diskfull|fuzz-c|fuzz-api|memcheck|lua-oom)' "$TMP/out"
  [ -n "${VERBOSE:-}" ] && cat "$TMP/err"
  if [ $s -eq 0 ]; then PASSED=$((PASSED + 1)); else
    FAILED=$((FAILED + 1)); echo "$name: FAILED (status $s, $(( $(date +%s) - t0 ))s)"; tail -n 30 "$TMP/err"; tail -n 5 "$TMP/out"
  fi
}

make -s >/dev/null 2>"$TMP/build.err" || { cat "$TMP/build.err"; echo "reliability: 0 passed, 1 failed"; exit 1; }
HAVE_LUAJIT=0
command -v luajit >/dev/null && make -s luajit >/dev/null 2>&1 && HAVE_LUAJIT=1
# ASan + UBSan build of the module (as scripts/test.sh makes it), in a temp dir
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
make -s BUILD="$TMP/asan" CFLAGS="-O1 -g $SAN" LDFLAGS="$SAN" >/dev/null 2>&1 && HAVE_ASAN=1 || HAVE_ASAN=0
LIBASAN=$(gcc -print-file-name=libasan.so)

fuzz_api_rounds() { # lua, cpath, seeds, operations, seconds-per-seed
  local lua=$1 cpath=$2 seeds=$3 ops=$4 secs=$5 s st=0 line
  for s in $seeds; do
    PG_CPATH=$cpath $lua "$HERE/fuzz_api.lua" "$s" "$ops" "$secs" || st=1
  done
  return $st
}
asan_fuzz() {
  LD_PRELOAD="$LIBASAN" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    PG_CPATH="$TMP/asan" lua5.4 "$HERE/fuzz_api.lua" "$@" 2>&1 | tee "$TMP/asan.log"
  local s=${PIPESTATUS[0]}
  grep -qE 'ERROR: AddressSanitizer|runtime error' "$TMP/asan.log" && s=1
  return $s
}

# Lua memory errors in every allocation of a call, in turn (reliability/lua_oom.c): the
# plain module, and the ASan+UBSan one in a host built with the sanitizers (leaks checked).
lua_oom() {
  local flags="$(pkg-config --cflags --libs lua5.4) -Wl,-E" st=0
  cc -O1 -g -std=c99 -o "$TMP/lua_oom" "$HERE/lua_oom.c" $flags || return 1
  rm -f "$TMP/oom.db"*; "$TMP/lua_oom" "$ROOT/build" "$TMP/oom.db" || st=1
  if [ $HAVE_ASAN = 1 ]; then
    cc -O1 -g -std=c99 $SAN -o "$TMP/lua_oom_asan" "$HERE/lua_oom.c" $flags || return 1
    rm -f "$TMP/oom.db"*
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 "$TMP/lua_oom_asan" "$TMP/asan" "$TMP/oom.db" \
      | sed 's/^lua-oom: /lua-oom (asan+ubsan): /'
    [ "${PIPESTATUS[0]}" -eq 0 ] || st=1
  fi
  return $st
}

if [ "$MODE" = quick ]; then
  run many-writers "$HERE/many_writers.sh" 12 1
  run crash lua5.4 "$HERE/crash.lua" 100 60 1
  run diskfull "$HERE/diskfull.sh"
  run fuzz-c "$HERE/fuzz.sh" 20
  run fuzz-api fuzz_api_rounds lua5.4 "$ROOT/build" "1 2 3" 1500 20
  [ $HAVE_LUAJIT = 1 ] && run fuzz-api-luajit fuzz_api_rounds luajit "$ROOT/build-luajit" "4" 1500 20
  [ $HAVE_ASAN = 1 ] && run fuzz-api-asan asan_fuzz 5 800 30
  run memcheck "$HERE/memcheck.sh" 300 3
  run lua-oom lua_oom
else
  share=$((SECS / 8))
  run many-writers "$HERE/many_writers.sh" "$share" "$RANDOM"
  run crash lua5.4 "$HERE/crash.lua" 100000 "$share" "$RANDOM"
  run diskfull "$HERE/diskfull.sh"
  run fuzz-c "$HERE/fuzz.sh" $((SECS / 4))
  seeds=""; for i in $(seq 1 8); do seeds="$seeds $RANDOM"; done
  run fuzz-api fuzz_api_rounds lua5.4 "$ROOT/build" "$seeds" 1000000 $((share / 8 + 1))
  [ $HAVE_LUAJIT = 1 ] && run fuzz-api-luajit fuzz_api_rounds luajit "$ROOT/build-luajit" "$RANDOM $RANDOM" 1000000 $((share / 2 + 1))
  [ $HAVE_ASAN = 1 ] && run fuzz-api-asan asan_fuzz "$RANDOM" 1000000 "$share"
  run memcheck "$HERE/memcheck.sh" 3000 20
  run lua-oom lua_oom
fi
echo "reliability: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
