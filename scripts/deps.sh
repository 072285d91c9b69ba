#!/bin/sh
# Installs what progallery needs on Debian 12. Idempotent: installs only what is missing.
# Usage: scripts/deps.sh [core|luajit|all]   (default: core)
set -e
want="${1:-core}"
pkgs="build-essential pkg-config lua5.4 liblua5.4-dev lua-cjson libsqlite3-dev sqlite3 lua-busted luarocks valgrind"
case "$want" in
  luajit|all) pkgs="$pkgs luajit2 libluajit2-5.1-dev" ;;
esac
case "$want" in
  all) pkgs="$pkgs nginx-light libnginx-mod-http-lua curl" ;;
esac
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing" >&2
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
