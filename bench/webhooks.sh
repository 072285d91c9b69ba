#!/bin/sh
# make bench-webhooks: webhook delivery through nginx to a local receiver that answers at once
# (bench/webhook_sink.mjs): events/s delivered, and the lag from commit to receipt at the
# median and the 99th percentile. The writes: createGalleryItems of BENCH_WEBHOOK_BATCH (100)
# items, BENCH_WEBHOOK_CALLS (20) times, on another connection to the served file.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CALLS=${BENCH_WEBHOOK_CALLS:-20}
BATCH=${BENCH_WEBHOOK_BATCH:-100}
work=$(mktemp -d /tmp/progallery-http.XXXXXX)
chmod 755 "$work"
cleanup() {
  PORT=$port PROGALLERY_SERVE_DIR=$work/serve sh scripts/serve.sh stop >/dev/null 2>&1 || true
  [ -n "${sink_pid:-}" ] && kill "$sink_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
free_port() {
  while :; do
    p=$(awk 'BEGIN { srand(); print int(20000 + rand() * 40000) }')
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$p/" || [ $? -ne 7 ] || { echo "$p"; return; }
  done
}
make -s all luajit >/dev/null
openssl genrsa -out "$work/key.pem" 2048 2>/dev/null
sink_port=$(free_port)
PORT=$sink_port OUT=$work/lags.txt node bench/webhook_sink.mjs >"$work/sink.log" 2>&1 &
sink_pid=$!
sleep 0.5
port=$(free_port)
key=bench-key
PORT=$port PROGALLERY_SERVE_DIR=$work/serve PROGALLERY_ADMIN_KEY=$key PROGALLERY_NO_DEPS=1 \
  PROGALLERY_WEBHOOKS="http://127.0.0.1:$sink_port/hook" PROGALLERY_WEBHOOK_KEY=$work/key.pem \
  sh scripts/serve.sh start >/dev/null
# the writer: another connection to the served file (its commits wake the deliverer)
LUA_PATH="./lua/?.lua;;" LUA_CPATH="./build/?.so;;" \
  lua5.4 bench/webhooks.lua "$work/serve/data/progallery.db" "$work/lags.txt" "$CALLS" "$BATCH"
