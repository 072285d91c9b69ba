#!/bin/sh
# The main job on a fresh Debian 12 machine: installs what it needs, builds the
# module, and runs examples/quickstart.lua on an embedded SQLite file.
#   sh scripts/demo.sh [path.db]     (default: ./progallery-demo.db)
set -e
case "${1:-}" in
  -h|--help) sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  -*) echo "demo: unknown option $1 (try --help)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
sh scripts/deps.sh core
make -s all
LUA_PATH="./lua/?.lua;;" LUA_CPATH="./build/?.so;;" exec lua5.4 examples/quickstart.lua "${1:-progallery-demo.db}"
