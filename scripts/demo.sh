#!/bin/sh
# The main job on a fresh Debian 12 machine: installs what it needs, builds the
# module, and runs examples/quickstart.lua on an embedded SQLite file.
#   sh scripts/demo.sh [path.db]     (default: ./progallery-demo.db)
set -e
cd "$(dirname "$0")/.."
sh scripts/deps.sh core
make -s all
LUA_PATH="./lua/?.lua;;" LUA_CPATH="./build/?.so;;" exec lua5.4 examples/quickstart.lua "${1:-progallery-demo.db}"
