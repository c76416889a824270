#!/usr/bin/env bash
# `npm test`: install what is missing, build, bring up the local engines, run every Jest project.
# Engines this run started are stopped at the end; engines that were already up stay up.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh || exit 1
bash scripts/build.sh || exit 1
started_here=0
if ! bash deploy/local/infra.sh status >/dev/null 2>&1; then started_here=1; fi
bash deploy/local/infra.sh up || exit 1
export PUSHLEDGER_INFRA_UP=1
args=("$@")
if [ "${1:-}" = "--chaos" ]; then args=(--selectProjects integration --testPathPatterns chaos); export PUSHLEDGER_CHAOS_FULL=1; fi
node_modules/.bin/jest --ci "${args[@]}"
rc=$?
if [ "$started_here" = 1 ] && [ -z "${PUSHLEDGER_KEEP_INFRA:-}" ]; then bash deploy/local/infra.sh down >/dev/null 2>&1 || true; fi
exit $rc
