#!/bin/sh
# Installs what progallery needs on Debian 12. Idempotent: installs only what is missing.
#   scripts/deps.sh core     build + run on Lua 5.4 (the demo)
#   scripts/deps.sh all      everything the test suite uses: LuaJIT, nginx + lua module,
#                            lua-resty-lrucache (the HTTP response cache), clang/libFuzzer,
#                            valgrind, curl, Node.js for the SDK test and the pages,
#                            nginx's image_filter (resized media), chromium (the browser
#                            spec), python3-pil (the images the site specs generate),
#                            time (peak memory of the progallery command), PostgreSQL 15
#   scripts/deps.sh postgres postgresql-15 + libpq-dev only (no system cluster is created or started)
# core includes libstb-dev, libwebp-dev and libssl-dev: progallery.image (src/lua_image.c)
set -e
want="${1:-core}"
pkgs="build-essential pkg-config lua5.4 liblua5.4-dev lua-cjson libsqlite3-dev sqlite3 liblz4-dev libssl-dev libpq-dev libstb-dev libwebp-dev"
[ "$want" = postgres ] && pkgs="libpq-dev postgresql-15"
if [ "$want" = all ]; then
  pkgs="$pkgs lua-busted luarocks valgrind luajit2 libluajit2-5.1-dev clang libclang-rt-14-dev \
nginx-light libnginx-mod-http-lua lua-resty-lrucache curl procps openssl postgresql-15 python3 \
libnginx-mod-http-image-filter chromium python3-pil time"
  command -v npm >/dev/null 2>&1 || pkgs="$pkgs nodejs npm"
fi
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing" >&2
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Installing nginx must not start a system nginx on port 80: the tests run their own.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null && $SUDO chmod +x "$policy" && made_policy=1
fi
# Installing postgresql-15 must not create (or start) a "main" cluster: the tests initdb their own.
case "$missing" in *postgresql*)
  $SUDO mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.d/progallery.conf >/dev/null ;;
esac
$SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends $missing >/dev/null
[ "$made_policy" = 1 ] && $SUDO rm -f "$policy"
exit 0
