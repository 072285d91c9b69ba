#!/bin/sh
# Builds the pages of make serve (docs/site.md) into build/web: installs web/'s npm packages
# (npm ci, from web/package-lock.json) when they are missing or older than the lock file,
# then bundles web/src with esbuild (web/build.mjs). node_modules and build/web are build
# output, never committed.
#   sh scripts/web.sh [OUTDIR]     (default build/web)
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
out=${1:-$ROOT/build/web}
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
  { echo "web: node and npm are needed (sh scripts/deps.sh all)" >&2; exit 1; }
stamp=web/node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ web/package-lock.json -nt "$stamp" ]; then
  echo "web: npm ci in web/" >&2
  (cd web && npm ci --no-audit --no-fund --loglevel=error) >&2 ||
    { echo "web: npm ci failed (is the npm registry reachable?)" >&2; exit 1; }
fi
node web/build.mjs "$out"
