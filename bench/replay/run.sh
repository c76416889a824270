#!/usr/bin/env bash
# Replay throughput bench (see bench/replay/main.ts): builds, then runs it from source; the replay itself
# runs as the compiled CLI. Arguments go to main.ts.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/build.sh
[ "${PUSHLEDGER_INFRA_UP:-}" = 1 ] || bash deploy/local/infra.sh up >/dev/null
exec node -r ./libs/event-store/src/testing/ts-register.js bench/replay/main.ts "$@"
