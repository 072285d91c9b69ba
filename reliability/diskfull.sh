#!/bin/bash
# Full disk and I/O errors. (1) RLIMIT_FSIZE: a process whose files may not grow
# past the database's size + 256 KiB (ulimit -f, SIGXFSZ ignored so write()
# fails with EFBIG) runs growing writes (batches, clones, 1 MiB text, single
# items): each refused write must be INTERNAL with a storage message and change
# nothing; then, without the limit, the file is intact, holds exactly what the
# limited process last saw, and the same writes succeed. (2) When a tmpfs can be
# mounted (root): a 4 MiB filesystem filled up (ENOSPC), writes refused, then
# the same store works again once the filler file is removed.
# Usage: reliability/diskfull.sh
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
export PG_ROOT=${PG_ROOT:-$(dirname "$HERE")}
LUA=${LUA:-lua5.4}
TMP=$(mktemp -d)
MNT=""
cleanup() { [ -n "$MNT" ] && umount "$MNT" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
status=0
DB=$TMP/df.db
out() { sed 's/^diskfull [a-z]*: //' "$1" | tr '\n' ' '; }

$LUA "$HERE/diskfull.lua" prepare "$DB" >"$TMP/p.out" || status=1
kib=$(( $(stat -c %s "$DB") / 1024 + 256 ))
bash -c "trap '' XFSZ; ulimit -f $kib; exec $LUA '$HERE/diskfull.lua' limited '$DB' '$TMP/state'" >"$TMP/l.out" || status=1
$LUA "$HERE/diskfull.lua" verify "$DB" "$TMP/state" >"$TMP/v.out" || status=1
echo "diskfull (RLIMIT_FSIZE $kib KiB): $(out "$TMP/l.out")/ $(out "$TMP/v.out")"

mkdir -p "$TMP/mnt"
if [ "${PG_NO_TMPFS:-}" = "" ] && mount -t tmpfs -o size=4m tmpfs "$TMP/mnt" 2>/dev/null; then
  MNT=$TMP/mnt
  $LUA "$HERE/diskfull.lua" tmpfs "$MNT" >"$TMP/t.out" || status=1
  echo "diskfull (4 MiB tmpfs, ENOSPC): $(out "$TMP/t.out")"
  umount "$MNT" && MNT=""
else
  echo "diskfull (tmpfs): skipped, cannot mount a tmpfs here (not root?)"
fi
exit $status
