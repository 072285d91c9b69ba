#!/bin/sh
# A throwaway PostgreSQL 15 for the tests: never a system cluster.
#   scripts/pg_test_server.sh start DIR   initdb + pg_ctl as the postgres user in DIR (a temp dir),
#                                         listening on 127.0.0.1:<free port> and a Unix socket in DIR;
#                                         prints the DSN on stdout (also in DIR/dsn)
#   scripts/pg_test_server.sh standby PRIMARY_DIR DIR
#                                         a streaming replica of that server (pg_basebackup -R),
#                                         synchronous (the primary waits for it on every commit);
#                                         prints its DSN
#   scripts/pg_test_server.sh promote DIR promotes a standby
#   scripts/pg_test_server.sh kill DIR    stops a server at once (immediate: like a crash)
#   scripts/pg_test_server.sh stop DIR    stops it and removes DIR
#   scripts/pg_test_server.sh run CMD...  starts one, runs CMD with PROGALLERY_TEST_DSN set, stops it
# Installs postgresql-15 first when it is missing (scripts/deps.sh postgres).
set -eu
cd "$(dirname "$0")/.."
bin=/usr/lib/postgresql/15/bin
[ -x "$bin/initdb" ] || sh scripts/deps.sh postgres >&2
as_pg() { if [ "$(id -un)" = postgres ]; then "$@"; else su postgres -s /bin/sh -c "$(printf '%s ' "$@")"; fi; }

start() {
  dir=$1
  mkdir -p "$dir"
  chown postgres "$dir" 2>/dev/null || true
  chmod 700 "$dir"
  as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
         echo $((20000 + $$ % 20000)))
  # settings in postgresql.conf, not on the command line: a standby must share them
  cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
fsync = on
shared_buffers = 64MB
wal_level = replica
max_wal_senders = 4
log_min_messages = warning
CONF
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
    { cat "$dir/server.log" >&2; exit 1; }
  as_pg "$bin/createdb" -h "$dir" -p "$port" -U postgres progallery_test
  echo "host=127.0.0.1 port=$port user=postgres dbname=progallery_test" >"$dir/dsn"
  cat "$dir/dsn"
}

standby() {
  pdir=$1 dir=$2
  pport=$(sed -n 's/.*port=\([0-9]*\).*/\1/p' "$pdir/dsn")
  mkdir -p "$dir"
  chown postgres "$dir" 2>/dev/null || true
  chmod 700 "$dir"
  as_pg "$bin/pg_basebackup" -h 127.0.0.1 -p "$pport" -U postgres -D "$dir/data" -R -X stream -c fast \
    >"$dir/basebackup.log" 2>&1 || { cat "$dir/basebackup.log" >&2; exit 1; }
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  # the primary's postgresql.conf came along: only where it listens differs (later lines win)
  printf "port = %s\nunix_socket_directories = '%s'\n" "$port" "$dir" >>"$dir/data/postgresql.conf"
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
    { cat "$dir/server.log" >&2; exit 1; }
  # synchronous: an acknowledged commit is on the standby too
  psql -qAt "$(cat "$pdir/dsn")" -c "ALTER SYSTEM SET synchronous_standby_names = '*'" -c "SELECT pg_reload_conf()" >/dev/null
  i=0
  until [ "$(psql -qAt "$(cat "$pdir/dsn")" -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")" = 1 ]; do
    i=$((i + 1)); [ $i -ge 100 ] && { echo "standby: not streaming" >&2; exit 1; }
    sleep 0.1
  done
  echo "host=127.0.0.1 port=$port user=postgres dbname=progallery_test" >"$dir/dsn"
  cat "$dir/dsn"
}

stop() {
  dir=$1
  [ -d "$dir/data" ] && as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

case "${1:-}" in
  start) start "${2:?start DIR}" ;;
  stop) stop "${2:?stop DIR}" ;;
  standby) standby "${2:?standby PRIMARY_DIR DIR}" "${3:?standby PRIMARY_DIR DIR}" ;;
  promote) as_pg "$bin/pg_ctl" -D "${2:?promote DIR}/data" -w promote >/dev/null ;;
  kill) as_pg "$bin/pg_ctl" -D "${2:?kill DIR}/data" -m immediate -w stop >/dev/null ;;
  run)
    shift
    dir=$(mktemp -d /tmp/pgt.XXXXXX)
    trap 'stop "$dir"' EXIT INT TERM
    PROGALLERY_TEST_DSN=$(start "$dir")
    export PROGALLERY_TEST_DSN
    "$@" ;;
  *) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
