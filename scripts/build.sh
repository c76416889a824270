#!/usr/bin/env bash
# Compiles to dist/ (incremental, so a second build with no change is quick).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
node_modules/.bin/tsc -p tsconfig.build.json
