#!/bin/bash
# Many writers: 8 lua5.4 processes write to one file at once (creates, item
# creates/updates, clones, bulk deletes, deletes) while 2 more list; a sqlite3
# process now and then holds the write lock for 700 ms. Writers 1-7 wait up to
# busyTimeout = 5000 ms and so must never fail; writer 8 waits 200 ms and may
# get UNAVAILABLE, but only after really waiting that long. Afterwards the
# acknowledgement logs are replayed and compared with the file, and
# PRAGMA integrity_check must say ok.
# Usage: reliability/many_writers.sh [seconds=15] [seed=1]
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
export PG_ROOT=${PG_ROOT:-$(dirname "$HERE")}
SECS=${1:-15}
SEED=${2:-1}
WRITERS=8
READERS=2
LUA=${LUA:-lua5.4}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
DB=$TMP/mw.db

# The lock holder: BEGIN IMMEDIATE, 700 ms, COMMIT, every ~2 s.
(
  end=$(( $(date +%s) + SECS - 1 ))
  while [ "$(date +%s)" -lt "$end" ]; do
    sleep 1.3
    [ -f "$DB" ] && sqlite3 "$DB" ".timeout 5000" "BEGIN IMMEDIATE;" ".shell sleep 0.7" "COMMIT;" >/dev/null 2>&1
  done
) &
BLOCKER=$!

pids=""
for w in $(seq 1 $((WRITERS + READERS))); do
  bt=5000; mode=""
  [ "$w" -eq "$WRITERS" ] && bt=200
  [ "$w" -gt "$WRITERS" ] && mode=reader
  $LUA "$HERE/mw_worker.lua" "$DB" "$TMP/log.$w" "$w" "$SECS" "$bt" "$((SEED * 100 + w))" $mode \
    >"$TMP/out.$w" 2>"$TMP/err.$w" &
  pids="$pids $!"
done
status=0
for p in $pids; do wait "$p" || status=1; done
wait "$BLOCKER"

cat "$TMP"/err.* >&2
logs=""
for w in $(seq 1 $((WRITERS + READERS))); do logs="$logs $TMP/log.$w"; touch "$TMP/log.$w"; done
$LUA "$HERE/mw_check.lua" "$DB" $logs >"$TMP/check.out" 2>"$TMP/check.err" || status=1
cat "$TMP/check.err" >&2
[ -n "${VERBOSE:-}" ] && cat "$TMP"/out.* "$TMP/check.out"

# one-line summary
sums=$(cat "$TMP"/out.* | sed -n 's/.*: \([0-9]*\) calls, \([0-9]*\) acked writes, \([0-9]*\) unavailable, \([0-9]*\) not found, \([0-9]*\) failures/\1 \2 \3 \4 \5/p' \
  | awk '{c+=$1; a+=$2; u+=$3; n+=$4; f+=$5; k++} END {print c+0, a+0, u+0, n+0, f+0, k+0}')
set -- $sums
failures=$5
[ "$6" -ne $((WRITERS + READERS)) ] && { failures=$((failures + 1)); status=1; echo "many-writers: a worker died" >&2; }
grep -q '; 0 problems$' "$TMP/check.out" || { failures=$((failures + 1)); status=1; }
echo "many-writers: $WRITERS writers + $READERS readers, ${SECS}s: $1 calls, $2 acked writes, $3 unavailable (each after >= busyTimeout), $4 not found (clone/get of a gallery another writer deleted); $(sed 's/^check: //' "$TMP/check.out"); $failures failures"
exit $status
