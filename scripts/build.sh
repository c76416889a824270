#!/usr/bin/env bash
# Compiles to dist/ (incremental, so a second build with no change is quick), and bundles the web console
# (console/, Preact) into dist/console, which the gateway serves at /console.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
node_modules/.bin/tsc -p tsconfig.build.json
node_modules/.bin/tsc -p console/tsconfig.json
node console/build.mjs
