#!/bin/sh
# make bench-site: the site's figures of docs/site.md, side by side with their baselines.
#   1. the page: time from navigation to all images loaded for a 50-item gallery in headless
#      chromium, fed by the REST API and by the same JSON as a static file (web/test/bench.mjs);
#      the bytes it loads (encoded, as sent).
#   2. the resize path: requests/s (wrk, 127.0.0.1) of a cached resized copy
#      (/media/640/<file>) against the original file served statically (/media/<file>),
#      alternating, medians of the rounds.
# One server through scripts/serve.sh on a free port with a private prefix; 50 images made by
# Pillow (spec/site/images.py, 1600 x 1067 JPEG) imported with bin/progallery import-folder.
# Environment: BENCH_SITE_ROUNDS (5), BENCH_SITE_SECS (5), BENCH_SITE_CONNS (32).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ROUNDS=${BENCH_SITE_ROUNDS:-5}
SECS=${BENCH_SITE_SECS:-5}
CONNS=${BENCH_SITE_CONNS:-32}
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
sh scripts/deps.sh all
command -v wrk >/dev/null 2>&1 ||
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends wrk >/dev/null
make -s all luajit >/dev/null
sh scripts/web.sh >/dev/null

work=$(mktemp -d /tmp/progallery-bench-site.XXXXXX)
chmod 755 "$work"
port=
for _ in 1 2 3 4 5 6 7 8 9 10; do
  p=$(awk 'BEGIN { srand(); print int(20000 + rand() * 40000) }')
  if ! curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$p/"; then port=$p; break; fi
  sleep 1
done
[ -n "$port" ] || { echo "bench-site: no free port" >&2; exit 1; }
export PORT=$port PROGALLERY_SERVE_DIR=$work PROGALLERY_ADMIN_KEY=bench-site PROGALLERY_NO_DEPS=1
cleanup() { sh scripts/serve.sh stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

mkdir -p "$work/photos"
specs=""
i=1
while [ $i -le 50 ]; do specs="$specs $(printf 'p%02d.jpg:JPEG:1600x1067' $i)"; i=$((i + 1)); done
/usr/bin/python3 spec/site/images.py "$work/photos" $specs
gid=$(bin/progallery import-folder "$work/photos" --name "Bench" --db "$work/data/progallery.db" \
      --media "$work/media" 2>/dev/null | tail -n 1)
sh scripts/serve.sh start >/dev/null
base="http://127.0.0.1:$port"
# the static twin of the page's two requests, served by nginx from the media folder
curl -s "$base/progallery/v2/galleries/$gid?itemLimit=100" >"$work/media/gallery.json"
printf '{"items":[]}' >"$work/media/items.json"
chmod 644 "$work/media/gallery.json" "$work/media/items.json"

echo "== the page: 50 items, load to all images loaded (headless chromium, $ROUNDS rounds)"
(cd web && BASE=$base GALLERY=$gid STATIC_URL=$base/media/gallery.json ITEMS_URL=$base/media/items.json \
  ROUNDS=$ROUNDS node test/bench.mjs)

file=$(ls "$work/media" | grep -E '^[0-9a-f]{64}\.jpg$' | head -n 1)
curl -s -o /dev/null "$base/media/640/$file"   # make the cached copy
echo "== the resize path: cached /media/640/<file> ($(curl -s "$base/media/640/$file" | wc -c) bytes)" \
     "against the original /media/<file> ($(wc -c <"$work/media/$file") bytes), wrk $CONNS connections, ${SECS}s x $ROUNDS"
rate() { wrk -t2 -c"$CONNS" -d"${SECS}s" "$1" | awk '/Requests\/sec/ { print $2 }'; }
r=1
resized="" static=""
while [ $r -le "$ROUNDS" ]; do
  if [ $((r % 2)) -eq 1 ]; then a=$(rate "$base/media/640/$file"); b=$(rate "$base/media/$file")
  else b=$(rate "$base/media/$file"); a=$(rate "$base/media/640/$file"); fi
  echo "round $r: resized (cached) $a/s, original (static) $b/s"
  resized="$resized $a" static="$static $b"
  r=$((r + 1))
done
median() { printf '%s\n' $1 | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "resize path: median $(median "$resized") requests/s (cached); original file: median $(median "$static") requests/s"
