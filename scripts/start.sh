#!/usr/bin/env bash
# `npm start`: install what is missing, build, bring up the local engines, run every service.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/build.sh
bash deploy/local/infra.sh up
exec node scripts/start.js "$@"
