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
if [ "${1:-}" = "--chaos" ]; then
  # Every fault scenario PUSHLEDGER_CHAOS_RUNS times in a row (default 3; stops at the first failing run),
  # then the soak once. PUSHLEDGER_CHAOS_FULL=0 keeps the shortened load of `npm test`.
  export PUSHLEDGER_CHAOS_FULL=${PUSHLEDGER_CHAOS_FULL:-1}
  runs=${PUSHLEDGER_CHAOS_RUNS:-3}
  mkdir -p .data/chaos
  rm -f .data/chaos/run-*.json
  rc=0
  for i in $(seq 1 "$runs"); do
    echo "=== chaos run $i of $runs" >&2
    node_modules/.bin/jest --ci --selectProjects integration --testPathPatterns 'chaos/.*\.chaos\.int-spec' --testPathIgnorePatterns soak --json --outputFile ".data/chaos/run-$i.json"
    rc=$?
    [ $rc -eq 0 ] || break
  done
  node scripts/chaos-runs.js "$runs" .data/chaos bench/results/chaos-runs.json || true
  if [ $rc -eq 0 ] && [ "$PUSHLEDGER_CHAOS_FULL" = 1 ]; then
    node_modules/.bin/jest --ci --selectProjects integration --testPathPatterns soak
    rc=$?
  fi
else
  node_modules/.bin/jest --ci "$@"
  rc=$?
fi
if [ "$started_here" = 1 ] && [ -z "${PUSHLEDGER_KEEP_INFRA:-}" ]; then bash deploy/local/infra.sh down >/dev/null 2>&1 || true; fi
exit $rc
