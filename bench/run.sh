#!/usr/bin/env bash
# Every benchmark scenario, one after another, then bench/results/summary.md.
#
#   npm run bench                  # all scenarios at the sizes below
#   npm run bench -- fanout parse  # some of them (the summary is rebuilt from every results file)
#
# Sizes are chosen so the whole run fits in 30 minutes on a 2-core machine; override one scenario's
# arguments with BENCH_ARGS_<NAME> (e.g. BENCH_ARGS_FANOUT="--devices 1000000"). The 1,000,000-device
# runs of the issues take about 25 minutes each and are run on their own: segments.json is the last of them
# (the quick run writes segments-50k.json); fanout.json keeps the runs of every size. Scenario wall
# times go to bench/results/run-times.json. PUSHLEDGER_INFRA_UP=1 skips starting the local engines.
set -uo pipefail
cd "$(dirname "$0")/.."

ALL=(event-store ingest segments fanout replay parse)
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=("${ALL[@]}")

declare -A ARGS=(
  [event-store]="--runs 3 --seconds 1.5"
  [ingest]="--requests 3500 --concurrency 32,128 --max-seconds 30 --warmup 300 --ingest 5000"
  [segments]="--devices 50000 --rebuild-events 50000 --projector-events 5000 --name segments-50k"
  [fanout]="--devices 100000 --latencies 0,40 --max-seconds 400"
  [replay]="--events 1000000 --sealed 50000"
  [parse]="--registrations 3000 --concurrency 32 --pushes 5000 --runs 3"
)

for s in "${SCENARIOS[@]}"; do
  [ -n "${ARGS[$s]+x}" ] || { echo "unknown scenario: $s (one of: ${ALL[*]})" >&2; exit 2; }
done

set -e
[ "${PUSHLEDGER_INFRA_UP:-}" = 1 ] || bash deploy/local/infra.sh up
bash scripts/build.sh
set +e

# BENCH_RESULTS_DIR: results elsewhere (a trial run that must not replace the committed ones).
results="${BENCH_RESULTS_DIR:-bench/results}"
times="$results/run-times.json"
mkdir -p "$results"
[ -f "$times" ] || echo '{}' > "$times"
failed=()
start_all=$(date +%s)
for s in "${SCENARIOS[@]}"; do
  var="BENCH_ARGS_$(echo "$s" | tr 'a-z-' 'A-Z_')"
  args="${!var:-${ARGS[$s]}}"
  echo "=== bench $s $args" >&2
  t0=$(date +%s)
  # shellcheck disable=SC2086
  node -r ./libs/event-store/src/testing/ts-register.js "bench/$s/main.ts" $args
  rc=$?
  t1=$(date +%s)
  echo "=== bench $s: exit $rc after $((t1 - t0)) s" >&2
  [ $rc -eq 0 ] || failed+=("$s")
  node -e '
    const fs = require("fs"); const [file, name, secs, rc, args] = process.argv.slice(1);
    const t = JSON.parse(fs.readFileSync(file, "utf8"));
    t[name] = { seconds: Number(secs), exitCode: Number(rc), args, finishedAt: new Date().toISOString() };
    fs.writeFileSync(file, JSON.stringify(t, null, 2) + "\n");' "$times" "$s" "$((t1 - t0))" "$rc" "$args"
done
echo "=== all: $(( $(date +%s) - start_all )) s" >&2
node -r ./libs/event-store/src/testing/ts-register.js bench/summary.ts
[ ${#failed[@]} -eq 0 ] || { echo "failed: ${failed[*]}" >&2; exit 1; }
