#!/bin/bash
# libFuzzer on the C code that turns input into the data model (no Lua):
# reliability/fuzz/fuzz_model.c linked with the core's model sources (below), built with
# clang -fsanitize=fuzzer,address,undefined (the malloc/calloc/realloc of arena.c,
# json.c and strbuf.c routed through an allocator that can fail,
# for the out-of-memory checks). Starts from the seed corpus in
# reliability/fuzz/corpus, works in a temporary corpus, and on a crash keeps
# the reproducer in reliability/fuzz/crashes/.
# Usage: reliability/fuzz.sh [seconds=20]
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
SRC=${FUZZ_SRC:-$ROOT/src}   # another source tree (the self-test builds a broken copy)
SECS=${1:-20}
CC=${FUZZ_CC:-clang}
command -v "$CC" >/dev/null || CC=clang-14
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
SAN="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
OOM="-Dmalloc=pgf_malloc -Drealloc=pgf_realloc -Dcalloc=pgf_calloc"
CFLAGS="-g -O1 -I$SRC"
BIN=$TMP/fuzz_model
ALLOCATING="arena json strbuf"    # the core's only mallocs: built with the failing allocator
# the rest of the core's sources (the Makefile's list) but the engines (with the SQLite engine's VFS and the postgres connection pool), the API and the REST and restore calls over it
OTHERS=""
for f in $(make -s -C "$ROOT" print-core); do
  case " $ALLOCATING storage storage_sqlite walbuf storage_postgres pq_pool api rest restore " in *" $f "*) ;; *) OTHERS="$OTHERS $f" ;; esac
done
{
  for f in $ALLOCATING; do $CC $CFLAGS ${SAN/fuzzer,/fuzzer-no-link,} $OOM -c "$SRC/$f.c" -o "$TMP/$f.o" || exit 1; done &&
  for f in $OTHERS; do $CC $CFLAGS ${SAN/fuzzer,/fuzzer-no-link,} -c "$SRC/$f.c" -o "$TMP/$f.o" || exit 1; done &&
  $CC $CFLAGS $SAN "$HERE/fuzz/fuzz_model.c" $(for f in $ALLOCATING $OTHERS; do echo "$TMP/$f.o"; done) -lcrypto -lm -o "$BIN"
} >"$TMP/build.log" 2>&1 || { cat "$TMP/build.log"; echo "fuzz-c: build failed; 1 failures"; exit 1; }
mkdir -p "$TMP/corpus"
cp "$HERE"/fuzz/corpus/* "$TMP/corpus/"
CRASHES=${FUZZ_CRASHES:-$HERE/fuzz/crashes}
mkdir -p "$CRASHES"
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
  "$BIN" -max_total_time="$SECS" -dict="$HERE/fuzz/model.dict" -max_len=4096 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$CRASHES/" \
  "$TMP/corpus" >"$TMP/run.log" 2>&1
rc=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$TMP/run.log")
cov=$(grep -o 'cov: [0-9]*' "$TMP/run.log" | tail -1)
corp=$(ls "$TMP/corpus" | wc -l)
fail=0
if [ $rc -ne 0 ]; then
  fail=1
  grep -E 'ERROR|check failed|runtime error|SUMMARY|Test unit written' "$TMP/run.log" | head -20 >&2
fi
echo "fuzz-c: libFuzzer fuzz_model ${SECS}s: ${runs:-0} inputs (each also re-run with allocation failures), $cov, corpus $corp; $fail failures"
exit $fail
