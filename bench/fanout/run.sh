#!/usr/bin/env bash
# Broadcast fan-out bench (see bench/fanout/main.ts): builds, then runs it from source with the harness
# that starts the compiled services. Arguments go to main.ts.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/build.sh
[ "${PUSHLEDGER_INFRA_UP:-}" = 1 ] || bash deploy/local/infra.sh up >/dev/null
exec node -r ./libs/event-store/src/testing/ts-register.js bench/fanout/main.ts "$@"
