// Summarises the Jest JSON of `npm run test:chaos`'s repeated runs into bench/results/chaos-runs.json:
// per run, when it ran, how long, each scenario's status and duration, and the harness's report of each
// scenario (operations, acknowledgements, faults, duplicates: the `report` line closing its history).
'use strict';
const fs = require('fs');
const path = require('path');
const [runs, dir, out] = process.argv.slice(2);
/** The closing report of every history written between `from` and `to` (ms). */
function reports(dir, from, to) {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .map((f) => path.join(dir, f))
    .filter((f) => {
      const t = fs.statSync(f).mtimeMs;
      return t >= from && t <= to;
    })
    .map((f) => {
      const last = fs.readFileSync(f, 'utf8').trimEnd().split('\n').reverse().find((l) => l.includes('"t":"report"'));
      if (!last) return { history: path.basename(f), report: null };
      const { t, problems, historyFile, ...rest } = JSON.parse(last);
      return { history: path.basename(f), ...rest };
    });
}

const result = { generatedAt: new Date().toISOString(), form: process.env.PUSHLEDGER_CHAOS_FULL === '1' ? 'full' : 'shortened', runsPlanned: Number(runs), runs: [] };
for (let i = 1; i <= Number(runs); i++) {
  const file = path.join(dir, `run-${i}.json`);
  if (!fs.existsSync(file)) break;
  const j = JSON.parse(fs.readFileSync(file, 'utf8'));
  const scenarios = j.testResults.flatMap((suite) => suite.assertionResults.map((a) => ({ scenario: a.fullName, status: a.status, seconds: Math.round((a.duration ?? 0) / 1000) })));
  const ended = Math.max(...j.testResults.map((s) => s.endTime || 0));
  result.runs.push({
    run: i,
    startedAt: new Date(j.startTime).toISOString(),
    passed: j.success,
    seconds: Math.round((ended - j.startTime) / 1000),
    tests: { passed: j.numPassedTests, failed: j.numFailedTests, skipped: j.numPendingTests },
    scenarios,
    reports: reports(dir, j.startTime, ended + 1000),
  });
}
result.passedInARow = result.runs.findIndex((r) => !r.passed) === -1 ? result.runs.length : result.runs.findIndex((r) => !r.passed);
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
console.error(`chaos: ${result.passedInARow} of ${result.runsPlanned} runs passed in a row -> ${out}`);
