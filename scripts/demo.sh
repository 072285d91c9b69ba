#!/bin/sh
# The main job on a fresh Debian 12 machine: installs what it needs, builds the
# module, and runs examples/quickstart.lua on an embedded SQLite file; ends by saying
# how to see galleries in a browser (make serve).
#   sh scripts/demo.sh [path.db]     (default: ./progallery-demo.db)
set -e
case "${1:-}" in
  -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  -*) echo "demo: unknown option $1 (try --help)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
sh scripts/deps.sh core
make -s all
db=${1:-progallery-demo.db}
LUA_PATH="./lua/?.lua;;" LUA_CPATH="./build/?.so;;" lua5.4 examples/quickstart.lua "$db"
case "$db" in /*) ;; *) db=$(pwd)/$db ;; esac
cat <<EOF

To see galleries in a browser (Wix's own renderer, docs/site.md):
  bin/progallery import-folder ~/Pictures --name Photos   # your images, into make serve's store
  make serve                                              # then open http://127.0.0.1:8080/
  PROGALLERY_DB=$db make serve   # or this demo's store (its images are on Wix's media server)
EOF
