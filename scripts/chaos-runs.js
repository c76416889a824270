// Summarises the Jest JSON of `npm run test:chaos`'s repeated runs into bench/results/chaos-runs.json:
// per run, when it ran, how long, and each scenario's status and duration.
'use strict';
const fs = require('fs');
const path = require('path');
const [runs, dir, out] = process.argv.slice(2);
const result = { generatedAt: new Date().toISOString(), form: process.env.PUSHLEDGER_CHAOS_FULL === '1' ? 'full' : 'shortened', runsPlanned: Number(runs), runs: [] };
for (let i = 1; i <= Number(runs); i++) {
  const file = path.join(dir, `run-${i}.json`);
  if (!fs.existsSync(file)) break;
  const j = JSON.parse(fs.readFileSync(file, 'utf8'));
  const scenarios = j.testResults.flatMap((suite) => suite.assertionResults.map((a) => ({ scenario: a.fullName, status: a.status, seconds: Math.round((a.duration ?? 0) / 1000) })));
  const ended = Math.max(...j.testResults.map((s) => s.endTime || 0));
  result.runs.push({ run: i, passed: j.success, seconds: Math.round((ended - j.startTime) / 1000), tests: { passed: j.numPassedTests, failed: j.numFailedTests, skipped: j.numPendingTests }, scenarios });
}
result.passedInARow = result.runs.findIndex((r) => !r.passed) === -1 ? result.runs.length : result.runs.findIndex((r) => !r.passed);
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
console.error(`chaos: ${result.passedInARow} of ${result.runsPlanned} runs passed in a row -> ${out}`);
