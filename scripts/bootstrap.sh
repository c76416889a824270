#!/usr/bin/env bash
# Installs the npm dependencies when they are missing or the lockfile changed, so `npm test` and
# `npm start` work on a fresh clone with no prior `npm install`.
# `npm ci`, so a fresh clone's lockfile is never rewritten (`git status` stays clean); the lockfile lists
# every platform's optional packages, which `npm ci` requires.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v node >/dev/null || { echo "node not found: install Node.js 20 (apt-get install -y nodejs npm)" >&2; exit 1; }
command -v npm >/dev/null || { echo "npm not found: apt-get install -y npm" >&2; exit 1; }
stamp=node_modules/.pushledger-lock-hash
want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[bootstrap] installing npm dependencies" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
  cat package.json package-lock.json | sha256sum | cut -d' ' -f1 > "$stamp"
fi
