#!/bin/bash
# valgrind memcheck over the harness workloads: a round of the Lua API fuzzer
# (every API call, valid and malformed, in memory), a many-writers worker on a
# file (WAL, busy waits, clones, bulk deletes) and the disk-full step (the
# INTERNAL error paths). Each run must have no memcheck error and nothing
# definitely lost, and pass its own checks.
# Usage: reliability/memcheck.sh [fuzz-operations=400] [worker-seconds=4]
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
export PG_ROOT=${PG_ROOT:-$(dirname "$HERE")}
OPS=${1:-400}
WSECS=${2:-4}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
VG="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite"
runs=0; fails=0
check() { # name, log, status
  runs=$((runs + 1))
  if [ "$3" -ne 0 ] || grep -q 'definitely lost: [1-9]' "$2"; then
    fails=$((fails + 1)); echo "memcheck: $1 FAILED (status $3)" >&2; tail -n 40 "$2" >&2
  fi
}
$VG lua5.4 "$HERE/fuzz_api.lua" 7 "$OPS" >"$TMP/fuzz.log" 2>&1
check "fuzz_api" "$TMP/fuzz.log" $?
$VG lua5.4 "$HERE/mw_worker.lua" "$TMP/mw.db" "$TMP/mw.log" 1 "$WSECS" 5000 7 >"$TMP/mw.out" 2>&1
check "mw_worker" "$TMP/mw.out" $?
lua5.4 "$HERE/diskfull.lua" prepare "$TMP/df.db" >/dev/null
kib=$(( $(stat -c %s "$TMP/df.db") / 1024 + 256 ))
bash -c "trap '' XFSZ; ulimit -f $kib; exec $VG lua5.4 '$HERE/diskfull.lua' limited '$TMP/df.db' '$TMP/state'" >"$TMP/df.log" 2>&1
check "diskfull limited" "$TMP/df.log" $?
calls=$(sed -n 's/.*, \([0-9]*\) calls (.*/\1/p' "$TMP/fuzz.log")
echo "memcheck: $runs valgrind runs (fuzz_api $OPS operations = ${calls:-?} calls, a ${WSECS}s file writer, disk-full errors): $fails failures (memcheck errors or definite leaks)"
[ "$fails" -eq 0 ]
