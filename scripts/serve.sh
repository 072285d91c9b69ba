#!/bin/sh
# Runs the example server (examples/nginx: nginx + lua-nginx-module + progallery.http) on
# 127.0.0.1 with a private nginx prefix inside the project.
#
#   sh scripts/serve.sh          start (installs what is missing, builds the LuaJIT module)
#   sh scripts/serve.sh stop     stop it (graceful; TERM after 10 s, KILL after 15 s)
#   sh scripts/serve.sh status
#
# Environment (all optional):
#   PORT                      listen port on 127.0.0.1 (8080)
#   PROGALLERY_ADMIN_KEY      admin key; unset: the key saved in <dir>/admin-key, else a new one
#   PROGALLERY_SERVE_DIR      nginx prefix: conf/, logs/, data/, tmp/ (./.serve)
#   PROGALLERY_DB             SQLite file (<dir>/data/progallery.db)
#   PROGALLERY_DSN            serve a PostgreSQL store instead (libpq conninfo or postgresql:// URI;
#                             API.md section 11): nodes on one DSN share their galleries
#   PROGALLERY_PREFIX         URL prefix (/pro-gallery/v2; /progallery/v2 answers too)
#   PROGALLERY_MAX_BODY       largest request body in bytes (1048576)
#   PROGALLERY_WORKERS        worker processes (2)
#   PROGALLERY_THREADS        threads of the SQLite thread pool, per worker (4)
#   PROGALLERY_THREAD_POOL    "off": call SQLite directly in the workers (for comparison)
#   PROGALLERY_CACHE          "off": no per-worker cache of GET responses (for comparison)
#   PROGALLERY_BUSY_TIMEOUT   ms a write waits for a lock (5000); PROGALLERY_SYNCHRONOUS (normal)
#   PROGALLERY_LOG_LEVEL      error_log level (warn); PROGALLERY_ACCESS_LOG: "on" for logs/access.log
#   PROGALLERY_MEDIA          the media folder served under /media/ (<dir>/media)
#   PROGALLERY_MEDIA_BASE     where /media/ redirects for files not in the folder
#                             (https://static.wixstatic.com/media, Wix's media server)
#   PROGALLERY_NO_DEPS        set: do not run scripts/deps.sh / make
#   PROGALLERY_WEBHOOKS       space-separated webhook URLs, each receiving all six events
#   PROGALLERY_WEBHOOK_KEY    path of the PEM RSA private key that signs them (required with webhooks)
#   PROGALLERY_INSTANCE_ID    the instanceId sent in webhooks (progallery)
#   PROGALLERY_SITES          many sites on this server (API.md section 14): the path of a Lua file
#                             returning { [siteId] = { db = ... | dsn = ..., schema = ..., adminKey = ...,
#                             webhooks = ..., instanceId = ... } } (docs/http.md, "Sites"); then
#                             PROGALLERY_DB and PROGALLERY_ADMIN_KEY are not used, and
#                             PROGALLERY_WEBHOOK_KEY signs every site's webhooks. Running as root,
#                             the workers (nobody) write SQLite files in <dir>/data only
#   PROGALLERY_DEFAULT_SITE   the site id of requests without wix-site-id (unset: those are 404)
# The pages (GET /, GET /g/{galleryId}) come from build/web (make web; docs/site.md).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DIR=${PROGALLERY_SERVE_DIR:-$ROOT/.serve}
case "$DIR" in /*) ;; *) DIR=$ROOT/$DIR ;; esac
PORT=${PORT:-8080}
cmd=${1:-start}

find_nginx() {
  NGINX=$(command -v nginx 2>/dev/null || true)
  [ -n "$NGINX" ] || { [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx; } || true
}

running_pid() {
  [ -f "$DIR/logs/nginx.pid" ] || return 1
  pid=$(cat "$DIR/logs/nginx.pid" 2>/dev/null || true)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

stop() {
  if ! pid=$(running_pid); then
    echo "serve: not running ($DIR)"
    rm -f "$DIR/logs/nginx.pid"
    return 0
  fi
  kill -QUIT "$pid" 2>/dev/null || true          # graceful: workers finish their requests
  i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true       # fast shutdown
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 25 ]; do sleep 0.2; i=$((i + 1)); done
  fi
  if kill -0 "$pid" 2>/dev/null; then
    workers=$(pgrep -P "$pid" 2>/dev/null || true)
    kill -KILL "$pid" $workers 2>/dev/null || true
    echo "serve: nginx (pid $pid) did not exit; killed it"
  fi
  rm -f "$DIR/logs/nginx.pid"
  echo "serve: stopped nginx (pid $pid)"
}

# A setting that goes into nginx.conf as it is must be what its directive takes: a bad one
# is named here, before anything is installed or started (nginx would refuse it with a
# line of its config, or a path with ";" or "{" would add directives of its own).
fail_setting() { echo "serve: $1" >&2; exit 2; }
check_number() { # NAME VALUE MIN MAX
  case "$2" in ''|*[!0-9]*) fail_setting "$1: expected a whole number from $3 to $4, got '$2'" ;; esac
  [ ${#2} -le 9 ] && [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] ||
    fail_setting "$1: expected a whole number from $3 to $4, got '$2'"
}
check_text() { # NAME VALUE: no blanks, quotes or characters nginx.conf or sed would read
  case "$2" in
    *[[:space:]\;\{\}\"\'\\\$\|\&\#]*) fail_setting "$1: '$2' holds a blank or one of ;{}\"'\\\$|&# (not taken in nginx.conf)" ;;
  esac
}
check_settings() {
  check_number PORT "$PORT" 1 65535
  check_number PROGALLERY_WORKERS "${PROGALLERY_WORKERS:-2}" 1 64
  check_number PROGALLERY_THREADS "${PROGALLERY_THREADS:-4}" 1 256
  check_number PROGALLERY_MAX_BODY "${PROGALLERY_MAX_BODY:-1048576}" 1 1073741824
  case "${PROGALLERY_LOG_LEVEL:-warn}" in
    debug|info|notice|warn|error|crit|alert|emerg) ;;
    *) fail_setting "PROGALLERY_LOG_LEVEL: expected debug, info, notice, warn, error, crit, alert or emerg, got '$PROGALLERY_LOG_LEVEL'" ;;
  esac
  check_text "the checkout's path" "$ROOT"
  check_text PROGALLERY_SERVE_DIR "$DIR"
  [ -z "${PROGALLERY_MEDIA:-}" ] || check_text PROGALLERY_MEDIA "$PROGALLERY_MEDIA"
  [ -z "${PROGALLERY_MEDIA_BASE:-}" ] || check_text PROGALLERY_MEDIA_BASE "$PROGALLERY_MEDIA_BASE"
}

start() {
  check_settings
  if pid=$(running_pid); then
    echo "serve: already running (pid $pid, prefix $DIR); 'sh scripts/serve.sh stop' first"
    return 0
  fi
  if [ -z "${PROGALLERY_NO_DEPS:-}" ]; then
    sh scripts/deps.sh all || { echo "serve: installing dependencies failed" >&2; exit 1; }
    make -s luajit >/dev/null || { echo "serve: 'make luajit' failed" >&2; exit 1; }
    make -s web >/dev/null || { echo "serve: 'make web' failed (the API still runs; the pages need it)" >&2; }
  fi
  [ -f build/web/index.html ] || echo "serve: warning: build/web/index.html missing (make web): / and /g/ answer 503" >&2
  find_nginx
  [ -n "$NGINX" ] || { echo "serve: nginx not found (sh scripts/deps.sh all)" >&2; exit 1; }
  for m in ndk_http_module ngx_http_lua_module ngx_http_image_filter_module; do
    [ -f "/usr/lib/nginx/modules/$m.so" ] || { echo "serve: /usr/lib/nginx/modules/$m.so missing (sh scripts/deps.sh all)" >&2; exit 1; }
  done
  [ -f build-luajit/progallery.so ] || { echo "serve: build-luajit/progallery.so missing (make luajit)" >&2; exit 1; }

  mkdir -p "$DIR/conf" "$DIR/logs" "$DIR/data" "$DIR/tmp" "$DIR/cache"
  MEDIA=${PROGALLERY_MEDIA:-$DIR/media}
  case "$MEDIA" in /*) ;; *) MEDIA=$ROOT/$MEDIA ;; esac
  mkdir -p "$MEDIA"
  MEDIA_BASE=${PROGALLERY_MEDIA_BASE:-https://static.wixstatic.com/media}
  MEDIA_BASE=${MEDIA_BASE%/}
  # a socket left by an nginx that did not exit cleanly would stop this one from binding
  rm -f "$DIR/tmp/media-resize.sock"
  if [ -z "${PROGALLERY_ADMIN_KEY:-}" ] && [ -z "${PROGALLERY_SITES:-}" ]; then
    if [ -s "$DIR/admin-key" ]; then
      PROGALLERY_ADMIN_KEY=$(cat "$DIR/admin-key")
    else
      PROGALLERY_ADMIN_KEY=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
      (umask 077; printf '%s\n' "$PROGALLERY_ADMIN_KEY" >"$DIR/admin-key")
      echo "serve: generated an admin key (saved in $DIR/admin-key)"
    fi
  fi
  PROGALLERY_DB=${PROGALLERY_DB:-$DIR/data/progallery.db}
  PROGALLERY_MAX_BODY=${PROGALLERY_MAX_BODY:-1048576}
  export PROGALLERY_ADMIN_KEY PROGALLERY_DB PROGALLERY_MAX_BODY
  [ -n "${PROGALLERY_DSN:-}" ] && export PROGALLERY_DSN
  export PROGALLERY_PREFIX="${PROGALLERY_PREFIX:-/pro-gallery/v2}"
  export PROGALLERY_THREAD_POOL="${PROGALLERY_THREAD_POOL:-progallery}"
  if [ -n "${PROGALLERY_WEBHOOKS:-}" ]; then
    [ -r "${PROGALLERY_WEBHOOK_KEY:-}" ] || { echo "serve: PROGALLERY_WEBHOOKS needs PROGALLERY_WEBHOOK_KEY (a readable PEM RSA private key)" >&2; exit 1; }
    case "$PROGALLERY_WEBHOOK_KEY" in /*) ;; *) PROGALLERY_WEBHOOK_KEY=$ROOT/$PROGALLERY_WEBHOOK_KEY ;; esac
    export PROGALLERY_WEBHOOKS PROGALLERY_WEBHOOK_KEY
  fi
  if [ -n "${PROGALLERY_WEBHOOK_KEY:-}" ] && [ -z "${PROGALLERY_WEBHOOKS:-}" ]; then
    # sites' own webhooks are signed with it too
    [ -r "$PROGALLERY_WEBHOOK_KEY" ] || { echo "serve: PROGALLERY_WEBHOOK_KEY: cannot read $PROGALLERY_WEBHOOK_KEY" >&2; exit 1; }
    case "$PROGALLERY_WEBHOOK_KEY" in /*) ;; *) PROGALLERY_WEBHOOK_KEY=$ROOT/$PROGALLERY_WEBHOOK_KEY ;; esac
    export PROGALLERY_WEBHOOK_KEY
  fi
  [ -n "${PROGALLERY_INSTANCE_ID:-}" ] && export PROGALLERY_INSTANCE_ID
  if [ -n "${PROGALLERY_SITES:-}" ]; then
    [ -r "$PROGALLERY_SITES" ] || { echo "serve: PROGALLERY_SITES: cannot read $PROGALLERY_SITES" >&2; exit 1; }
    case "$PROGALLERY_SITES" in /*) ;; *) PROGALLERY_SITES=$ROOT/$PROGALLERY_SITES ;; esac
    export PROGALLERY_SITES
  fi
  [ -n "${PROGALLERY_DEFAULT_SITE:-}" ] && export PROGALLERY_DEFAULT_SITE

  # A root master drops its workers to nobody: they must reach the code and own the data.
  user_line="# (not root: workers run as $(id -un))"
  if [ "$(id -u)" -eq 0 ]; then
    if runuser -u nobody -- sh -c "test -r '$ROOT/lua/progallery/http.lua' && test -r '$ROOT/build-luajit/progallery.so' && test -x '$DIR/data'" 2>/dev/null; then
      user_line="user nobody nogroup;"
      chown -R nobody:nogroup "$DIR/data" "$DIR/tmp" "$DIR/cache"
      runuser -u nobody -- test -r "$MEDIA" -a -x "$MEDIA" 2>/dev/null ||
        echo "serve: warning: user nobody cannot read the media folder $MEDIA: /media/ answers 403" >&2
      dbdir=$(dirname "$PROGALLERY_DB")
      [ "$dbdir" = "$DIR/data" ] || chown nobody:nogroup "$dbdir" 2>/dev/null || true
    else
      echo "serve: warning: user nobody cannot read $ROOT; workers run as root" >&2
      user_line="user root root;"
    fi
  fi
  access_log=off
  [ "${PROGALLERY_ACCESS_LOG:-}" = on ] && access_log=logs/access.log

  sed -e "s|@ROOT@|$ROOT|g" -e "s|@PORT@|$PORT|g" -e "s|@USER_LINE@|$user_line|g" \
      -e "s|@WORKERS@|${PROGALLERY_WORKERS:-2}|g" -e "s|@THREADS@|${PROGALLERY_THREADS:-4}|g" \
      -e "s|@MAX_BODY@|$PROGALLERY_MAX_BODY|g" -e "s|@LOG_LEVEL@|${PROGALLERY_LOG_LEVEL:-warn}|g" \
      -e "s|@ACCESS_LOG@|$access_log|g" -e "s|@DIR@|$DIR|g" -e "s|@MEDIA@|$MEDIA|g" \
      -e "s|@MEDIA_BASE@|$MEDIA_BASE|g" -e "s|@WEB@|$ROOT/build/web|g" \
      examples/nginx/nginx.conf >"$DIR/conf/nginx.conf"

  if ! "$NGINX" -p "$DIR/" -c conf/nginx.conf -e logs/error.log; then
    echo "serve: nginx did not start; $DIR/logs/error.log says:" >&2
    tail -n 20 "$DIR/logs/error.log" >&2 || true
    exit 1
  fi
  base="http://127.0.0.1:$PORT$PROGALLERY_PREFIX"
  i=0
  until curl -s -o /dev/null "$base/galleries" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -ge 50 ]; then
      echo "serve: nginx started but does not answer on 127.0.0.1:$PORT; $DIR/logs/error.log:" >&2
      tail -n 20 "$DIR/logs/error.log" >&2 || true
      stop >/dev/null
      exit 1
    fi
    sleep 0.1
  done
  if [ -n "${PROGALLERY_SITES:-}" ]; then
    cat <<EOF
serve: progallery REST v2 on $base (also http://127.0.0.1:$PORT/progallery/v2)
  the sites of $PROGALLERY_SITES, chosen by the wix-site-id header (default: ${PROGALLERY_DEFAULT_SITE:-none, a 404})
  pid $(cat "$DIR/logs/nginx.pid"), prefix $DIR, media $MEDIA
  curl -s -H 'wix-site-id: <siteId>' $base/galleries
Stop: sh scripts/serve.sh stop   (logs: $DIR/logs/error.log)
EOF
    return 0
  fi
  cat <<EOF
serve: progallery REST v2 on $base (also http://127.0.0.1:$PORT/progallery/v2)
  the galleries: http://127.0.0.1:$PORT/   one gallery: http://127.0.0.1:$PORT/g/<galleryId>
  pid $(cat "$DIR/logs/nginx.pid"), prefix $DIR, database ${PROGALLERY_DSN:-$PROGALLERY_DB}, media $MEDIA
  admin key: $PROGALLERY_ADMIN_KEY

Try it:
  K=$PROGALLERY_ADMIN_KEY
  curl -s $base/galleries
  curl -s -X POST -H "Authorization: \$K" -H 'Content-Type: application/json' \\
       -d '{"gallery":{"name":"Summer","items":[{"title":"Beach","image":{"imageInfo":{"id":"abc.jpg","filename":"beach.jpg","width":400,"height":300}}}]}}' \\
       $base/galleries
  curl -s "$base/galleries/<galleryId>?itemLimit=10"
  curl -s -X DELETE -H "Authorization: \$K" $base/galleries/<galleryId>
Stop: sh scripts/serve.sh stop   (logs: $DIR/logs/error.log)
EOF
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) if pid=$(running_pid); then echo "serve: running (pid $pid, prefix $DIR)"; else echo "serve: not running"; exit 1; fi ;;
  *) echo "usage: sh scripts/serve.sh [start|stop|status]" >&2; exit 2 ;;
esac
