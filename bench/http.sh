#!/bin/sh
# make bench-http: requests/s of GET of a 50-item gallery through progallery.http in nginx, against
# the same nginx serving that exact response body as a static file; wrk on 127.0.0.1, one run.
#
# One nginx (examples/nginx/nginx.conf filled in like scripts/serve.sh does, plus one location for
# the static file) with a private prefix in a temp dir, on a free 127.0.0.1 port. A gallery of 50
# items is created through the API (admin key); its GET response (visitor) is saved as the static
# file and checked byte for byte against what nginx serves there. Then wrk runs on both URLs
# alternately (the order flips every round), with the same threads/connections/duration, first
# with the SQLite thread pool on, then with PROGALLERY_THREAD_POOL=off, then (for reference)
# with the response cache off (PROGALLERY_CACHE=off), nginx restarted between modes.
# Rates are medians of the rounds; the ratio is the median of the per-round ratios.
#
# Environment (all optional): BENCH_HTTP_PROFILE (0; 1: perf profile of the POST run; get: of
#   one more uncached GET run per cache-off mode; BENCH_HTTP_PROFILE_KEEP=path keeps its perf.data), BENCH_HTTP_ROUNDS (3), BENCH_HTTP_SECS (5), BENCH_HTTP_THREADS (2),
#   BENCH_HTTP_CONNS (32), BENCH_HTTP_MODES ("pool off nocache"; also direct-nocache: no pool, no
#   cache, a reference), PROGALLERY_WORKERS (2),
#   PROGALLERY_THREADS (4), BENCH_HTTP_PORT (default: a free port).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ROUNDS=${BENCH_HTTP_ROUNDS:-3}
SECS=${BENCH_HTTP_SECS:-5}
THREADS=${BENCH_HTTP_THREADS:-2}
CONNS=${BENCH_HTTP_CONNS:-32}
MODES=${BENCH_HTTP_MODES:-pool off nocache}
WORKERS=${PROGALLERY_WORKERS:-2}
POOL_THREADS=${PROGALLERY_THREADS:-4}
PREFIX=/pro-gallery/v2
# Issue 11: uncached GET >= 0.5x the static file; with the response cache >= 0.9x.
TARGET_UNCACHED=0.5
TARGET_CACHED=0.9
started=$(date +%s)

SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if ! command -v wrk >/dev/null 2>&1; then
  echo "bench-http: installing wrk" >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ] ||
   [ ! -f /usr/lib/nginx/modules/ngx_http_lua_module.so ] || ! command -v curl >/dev/null 2>&1; then
  sh scripts/deps.sh all     # nginx-light, libnginx-mod-http-lua, luajit2, curl (no system nginx start)
fi
NGINX=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
make -s all luajit >/dev/null

work=$(mktemp -d /tmp/progallery-bench-http.XXXXXX)
pidfile="$work/logs/nginx.pid"

stop_nginx() {
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile" 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  kill -QUIT "$pid" 2>/dev/null || true
  i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
  fi
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" $(pgrep -P "$pid" 2>/dev/null || true) 2>/dev/null || true
  fi
  rm -f "$pidfile"
}
cleanup() { stop_nginx; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A private copy of the module: a concurrent `make luajit` cannot swap it under the workers.
mkdir -p "$work/conf" "$work/logs" "$work/data" "$work/tmp" "$work/lib" "$work/html" "$work/cache" "$work/media"
cp build-luajit/progallery.so "$work/lib/progallery.so"
chmod 755 "$work" "$work/lib" "$work/html"

# A root master drops its workers to nobody (as scripts/serve.sh does).
user_line="# (not root: workers run as $(id -un))"
if [ "$(id -u)" -eq 0 ]; then
  if runuser -u nobody -- sh -c "test -r '$ROOT/lua/progallery/http.lua' && test -r '$work/lib/progallery.so'" 2>/dev/null; then
    user_line="user nobody nogroup;"
    chown -R nobody:nogroup "$work/data" "$work/tmp" "$work/cache"
  else
    user_line="user root root;"
  fi
fi

free_port() {
  p=$(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 20000 + 30000 ))
  while ss -Htan "( sport = :$p )" 2>/dev/null | grep -q .; do p=$((p + 1)); done
  echo "$p"
}
PORT=${BENCH_HTTP_PORT:-$(free_port)}
BASE="http://127.0.0.1:$PORT"

export PROGALLERY_ADMIN_KEY=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
export PROGALLERY_DB="$work/data/progallery.db"
export PROGALLERY_PREFIX=$PREFIX
export PROGALLERY_MAX_BODY=1048576
export PROGALLERY_SYNCHRONOUS=normal

# The template, filled in as scripts/serve.sh does, plus the static file's location in the
# API's server (before its page, "location = /"; the resize server has a "location /" too) (same
# Content-Type and Cache-Control as the API's answer).
static_loc="        location = /static/gallery.json { alias $work/html/gallery.json; types { } default_type \"application/json; charset=utf-8\"; add_header Cache-Control no-store; etag off; }"
write_conf() {
  sed -e "s|@ROOT@/build-luajit/|$work/lib/|g" \
      -e "s|@ROOT@|$ROOT|g" -e "s|@PORT@|$PORT|g" -e "s|@USER_LINE@|$user_line|g" \
      -e "s|@WORKERS@|$WORKERS|g" -e "s|@THREADS@|$POOL_THREADS|g" \
      -e "s|@MAX_BODY@|$PROGALLERY_MAX_BODY|g" -e "s|@LOG_LEVEL@|warn|g" -e "s|@ACCESS_LOG@|off|g" \
      -e "s|@DIR@|$work|g" -e "s|@MEDIA@|$work/media|g" -e "s|@WEB@|$ROOT/build/web|g" \
      -e "s|@MEDIA_BASE@|https://static.wixstatic.com/media|g" \
      examples/nginx/nginx.conf | awk -v loc="$static_loc" '/^[ \t]*location = \/ \{/ && !done { print loc; done = 1 } { print }' \
      >"$work/conf/nginx.conf"
  grep -q 'location = /static/gallery.json' "$work/conf/nginx.conf" ||
    { echo "bench-http: could not add the static location to the nginx.conf template" >&2; exit 1; }
}

start_nginx() {   # $1: thread pool setting ("progallery" or "off"); $2: response cache (on/off)
  export PROGALLERY_THREAD_POOL=$1
  export PROGALLERY_CACHE=${2:-on}
  write_conf
  if ! "$NGINX" -p "$work/" -c conf/nginx.conf -e logs/error.log; then
    echo "bench-http: nginx did not start:" >&2; tail -n 20 "$work/logs/error.log" >&2 || true; exit 1
  fi
  i=0
  until curl -s -o /dev/null "$BASE$PREFIX/galleries" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 50 ] || { echo "bench-http: nginx does not answer on $BASE" >&2; tail -n 20 "$work/logs/error.log" >&2 || true; exit 1; }
    sleep 0.1
  done
}

# 50 distinct items: title, description, link, tags, image with focal point.
make_body() {
  printf '{"gallery":{"name":"HTTP bench","items":['
  n=1
  while [ $n -le 50 ]; do
    [ $n -gt 1 ] && printf ','
    printf '{"title":"Beach at sunset %02d","description":"A long sandy beach at sunset, palm trees on the left and the tide coming in.","link":{"url":"https://example.com/galleries/summer/beach-%d","target":"_blank"},"tags":{"values":["beach","sunset","summer"]},"image":{"imageInfo":{"id":"11062b_a1b2c3d4e5f6%02d~mv2.jpg","filename":"beach-%02d.jpg","width":4000,"height":3000},"focalPoint":{"x":0.5,"y":0.4}}}' $n $n $n $n
    n=$((n + 1))
  done
  printf ']}}'
}

# Each mode's settings, in one place (the first mode's nginx is started with them too).
mode_settings() {
  case "$1" in
    pool) pool=progallery; cache=on; label="thread pool ($POOL_THREADS threads/worker)" ;;
    off) pool=off; cache=on; label="thread pool off (direct calls)" ;;
    nocache) pool=progallery; cache=off; label="thread pool, response cache off" ;;
    direct-nocache) pool=off; cache=off; label="no pool, no cache (reference)" ;;
    *) echo "bench-http: unknown mode $1 (pool, off, nocache, direct-nocache)" >&2; exit 2 ;;
  esac
}
first_mode=${MODES%% *}
mode_settings "$first_mode"
start_nginx "$pool" "$cache"
make_body >"$work/create.json"
code=$(curl -s -o "$work/created.json" -w '%{http_code}' -X POST -H "Authorization: $PROGALLERY_ADMIN_KEY" \
  -H 'Content-Type: application/json' --data-binary @"$work/create.json" "$BASE$PREFIX/galleries")
[ "$code" = 200 ] || { echo "bench-http: createGallery answered $code: $(head -c 400 "$work/created.json")" >&2; exit 1; }
# the gallery's own id is the top-level "id" outside "items": find it by trying each id found
gid=""
for id in $(grep -o '"id":"[0-9a-f-]\{36\}"' "$work/created.json" | cut -d'"' -f4 | sort -u); do
  if [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE$PREFIX/galleries/$id")" = 200 ]; then gid=$id; break; fi
done
[ -n "$gid" ] || { echo "bench-http: no gallery id in the createGallery answer" >&2; exit 1; }
API_URL="$BASE$PREFIX/galleries/$gid"
STATIC_URL="$BASE/static/gallery.json"

# The exact GET body (visitor, as wrk sends it) becomes the static file.
code=$(curl -s -o "$work/get.json" -w '%{http_code}' "$API_URL")
[ "$code" = 200 ] || { echo "bench-http: GET answered $code" >&2; exit 1; }
items=$(grep -o '"title":"Beach at sunset [0-9][0-9]"' "$work/get.json" | wc -l)
[ "$items" -eq 50 ] || { echo "bench-http: the GET body has $items items, not 50" >&2; exit 1; }
cp "$work/get.json" "$work/html/gallery.json"
chmod 644 "$work/html/gallery.json"
bytes=$(wc -c <"$work/get.json" | tr -d ' ')
# The API's key order may differ between answers (Lua tables): same length and same JSON value.
same_json() {   # $1 $2 files
  [ "$(wc -c <"$1")" -eq "$(wc -c <"$2")" ] || return 1
  lua5.4 -e 'require "cjson"' 2>/dev/null || return 0   # no lua5.4 + cjson here: equal length has to do
  lua5.4 - "$1" "$2" <<'LUA'
local cjson = require "cjson"
local function rd(p) local f = assert(io.open(p, "rb")); local s = f:read("a"); f:close(); return cjson.decode(s) end
local function eq(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do if not eq(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end
os.exit(eq(rd(arg[1]), rd(arg[2])) and 0 or 1)
LUA
}
check_same() {
  curl -s -o "$work/static.out" "$STATIC_URL"
  curl -s -o "$work/api.out" "$API_URL"
  cmp -s "$work/static.out" "$work/get.json" ||
    { echo "bench-http: the static file is not the saved GET body" >&2; exit 1; }
  same_json "$work/api.out" "$work/get.json" ||
    { echo "bench-http: the API's GET body differs from the saved one" >&2; exit 1; }
}
check_same

# wrk once; prints requests/s. Any non-2xx answer or socket error fails the run.
run_wrk() {   # $1 url, $2 seconds
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"$2"s "$1" 2>&1) || { echo "$out" >&2; exit 1; }
  if echo "$out" | grep -q -e 'Non-2xx' -e 'Socket errors'; then
    echo "bench-http: wrk on $1 reported errors:" >&2; echo "$out" >&2; exit 1
  fi
  echo "$out" | awk '/^Requests\/sec:/ { print $2 }'
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
fmt_rate() { awk -v x="$1" 'BEGIN { s = sprintf("%.0f", x); n = length(s); o = ""; for (i = 1; i <= n; i++) { o = o substr(s, i, 1); if ((n - i) % 3 == 0 && i < n) o = o "," } print o }'; }

rows=""
misses=0
get_profiles=""
for mode in $MODES; do
  mode_settings "$mode"
  if [ "$mode" != "$first_mode" ]; then stop_nginx; start_nginx "$pool" "$cache"; check_same; fi
  run_wrk "$API_URL" 2 >/dev/null; run_wrk "$STATIC_URL" 2 >/dev/null   # warm-up
  api_rates=""; static_rates=""; ratios=""
  r=1
  while [ $r -le "$ROUNDS" ]; do
    if [ $((r % 2)) -eq 1 ]; then s=$(run_wrk "$STATIC_URL" "$SECS"); a=$(run_wrk "$API_URL" "$SECS")
    else a=$(run_wrk "$API_URL" "$SECS"); s=$(run_wrk "$STATIC_URL" "$SECS"); fi
    api_rates="$api_rates $a"; static_rates="$static_rates $s"
    ratios="$ratios $(awk -v a="$a" -v s="$s" 'BEGIN { printf "%.4f", a / s }')"
    r=$((r + 1))
  done
  # BENCH_HTTP_PROFILE=get: perf samples the nginx workers (and their pool threads) during
  # one more uncached GET run, after the measured rounds (so it does not skew them).
  if [ "${BENCH_HTTP_PROFILE:-0}" = get ] && [ "$cache" = off ] && command -v perf >/dev/null 2>&1; then
    pids=$(pgrep -d, -f "nginx: worker process" || true)
    if [ -n "$pids" ]; then
      perf record -q -F 999 -g -p "$pids" -o "$work/perf-get-$mode.data" -- sleep "$SECS" >/dev/null 2>&1 &
      run_wrk "$API_URL" "$SECS" >/dev/null
      wait
      get_profiles="$get_profiles $mode"
    fi
  fi
  a=$(echo "$api_rates" | median); s=$(echo "$static_rates" | median); q=$(echo "$ratios" | median)
  target=$TARGET_CACHED; [ "$cache" = off ] && target=$TARGET_UNCACHED
  verdict=$(awk -v q="$q" -v t="$target" 'BEGIN { printf "%.2fx >= %.1fx: %s", q, t, (q >= t ? "PASS" : "MISS") }')
  [ "$mode" = direct-nocache ] && verdict="reference (no target)"
  case "$verdict" in *MISS) misses=$((misses + 1)) ;; esac
  rows="$rows$(printf '| %-36s | %15s | %11s | %5.2fx | %-19s |' "$label" "$(fmt_rate "$a")" "$(fmt_rate "$s")" "$q" "$verdict")
"
done

# POST .../items (one item, admin) against createGalleryItem called from Lua in one process:
# reported as a ratio (no target; the README says where the time goes).
cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"item":{"title":"bench","image":{"imageInfo":{"id":"a.jpg","width":10,"height":20}}}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = os.getenv("PROGALLERY_ADMIN_KEY")
LUA
POST_URL="$API_URL/items"
# BENCH_HTTP_PROFILE=1: perf samples the nginx processes during the POST run (where the
# time goes: for the README), printed after the table.
if [ "${BENCH_HTTP_PROFILE:-0}" = 1 ] && command -v perf >/dev/null 2>&1; then
  pids=$(pgrep -d, -f "nginx: worker process" || true)
  [ -n "$pids" ] && perf record -q -F 499 -g -p "$pids" -o "$work/perf.data" -- sleep "$SECS" >/dev/null 2>&1 &
fi
post_out=$(wrk -t"$THREADS" -c"$CONNS" -d"$SECS"s -s "$work/post.lua" "$POST_URL" 2>&1) || { echo "$post_out" >&2; exit 1; }
wait
if echo "$post_out" | grep -q -e 'Non-2xx' -e 'Socket errors'; then
  echo "bench-http: wrk POST reported errors:" >&2; echo "$post_out" >&2; exit 1
fi
post_rate=$(echo "$post_out" | awk '/^Requests\/sec:/ { print $2 }')
direct_rate=$(LUA_PATH="$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;;" LUA_CPATH="$ROOT/build/?.so;;" \
  lua5.4 bench/post_direct.lua "$work/direct.db" "$SECS")
post_ratio=$(awk -v a="$post_rate" -v s="$direct_rate" 'BEGIN { printf "%.2f", a / s }')

echo
echo "HTTP GET of a 50-item gallery ($bytes-byte JSON body), nginx $WORKERS workers, wrk -t$THREADS -c$CONNS -d${SECS}s on 127.0.0.1;"
echo "requests/s, medians of $ROUNDS alternating rounds; ratio: progallery.http over the static file, median of the per-round ratios."
echo
printf '| %-36s | %15s | %11s | %6s | %-19s |\n' "case" "progallery.http" "static file" "ratio" "target"
printf '| %-36s | %15s | %11s | %6s | %-19s |\n' "------------------------------------" "--------------:" "----------:" "-----:" "-------------------"
printf '%s' "$rows"
echo
echo "POST $PREFIX/galleries/{id}/items (one item, admin key, wrk -t$THREADS -c$CONNS -d${SECS}s): $(fmt_rate "$post_rate") requests/s;"
echo "createGalleryItem from Lua 5.4 in one process, same store options: $(fmt_rate "$direct_rate") items/s; ratio ${post_ratio}x (reported, no target)."
for mode in $get_profiles; do
  [ -s "$work/perf-get-$mode.data" ] || continue
  echo
  echo "Where the uncached GET time goes, mode $mode (perf, nginx workers and their threads; self time, top entries):"
  perf report -i "$work/perf-get-$mode.data" --stdio --no-children --sort dso,sym 2>/dev/null | grep -E '^ +[0-9]' | head -40
  if [ -n "${BENCH_HTTP_PROFILE_KEEP:-}" ]; then cp "$work/perf-get-$mode.data" "$BENCH_HTTP_PROFILE_KEEP-$mode.data"; fi
done
if [ -s "$work/perf.data" ]; then
  echo
  echo "Where the POST time goes (perf, nginx workers and their threads; self time, top entries):"
  perf report -i "$work/perf.data" --stdio --no-children --sort dso,sym 2>/dev/null | grep -E '^ +[0-9]' | head -25
fi
echo
echo "Targets missed: $misses. Total bench-http time $(( $(date +%s) - started )) s."
