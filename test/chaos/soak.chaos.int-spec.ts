/**
 * Soak (only with PUSHLEDGER_CHAOS_FULL=1, i.e. `npm run test:chaos`): 10 minutes of registrations at half
 * the throughput measured by bench/ingest, with every tenth device running the whole lifecycle script, a
 * push included (a steady fan-out, and identify and logout traffic). The resident memory of every process is
 * sampled every 10 s into bench/results/soak.json, and the suite fails if any keeps growing: the least-squares slope, over the second half, of each minute's lowest
 * sample (the floor a garbage collection returns to; a leak raises it, a GC sawtooth does not) above
 * MAX_SLOPE_KB_PER_S.
 *
 * The projector's document cache is bounded (default 100,000 documents, more than ten minutes here create):
 * the soak bounds it at PROJECTOR_CACHE documents, well below what it creates, so the bound is reached early
 * and the second half shows whether anything grows beyond it.
 * The usual checks (nothing lost, duplicated or reordered) run at the end.
 */
import * as fs from 'fs';
import * as path from 'path';
import { FcmSimulator } from '@pushledger/fcm';
import { repoRoot, type Stack, type TestApp } from '@pushledger/testing';
import { writeResults } from '../../bench/lib/results';
import { ChaosHarness, CHAOS_FULL, expectSound, startChaosStack } from './chaos-harness';

const DURATION_MS = 10 * 60_000;
const SAMPLE_MS = 10_000;
// 36 MB per 30 min of steady growth; a heap that settles has a slope near 0 over the second half.
const MAX_SLOPE_KB_PER_S = 20;
const PROJECTOR_CACHE = 1_000;
const FLOOR_WINDOW_S = 60;
const WHOLE_SCRIPT_EVERY = 10;
/** The soak must reach this share of its target rate; a slower run would hide a leak behind less work. */
const MIN_RATE_SHARE = 0.9;

function measuredRegistrationsPerSecond(): number {
  const file = path.join(repoRoot, 'bench/results/ingest.json');
  const http = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')).http as { registrationsPerSecond: number }[]) : [];
  return Math.max(...http.map((h) => h.registrationsPerSecond), 0) || 100;
}

/** The lowest sample of each window of `seconds`, at the window's start. */
function floors(series: [number, number][], seconds: number): [number, number][] {
  const byWindow = new Map<number, number>();
  for (const [t, y] of series) {
    const w = Math.floor(t / seconds) * seconds;
    byWindow.set(w, Math.min(byWindow.get(w) ?? Infinity, y));
  }
  return [...byWindow.entries()].sort((a, b) => a[0] - b[0]);
}

/** Least-squares slope of y over x. */
function slope(points: [number, number][]): number {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  const num = points.reduce((s, p) => s + (p[0] - mx) * (p[1] - my), 0);
  const den = points.reduce((s, p) => s + (p[0] - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

const soak = CHAOS_FULL ? it : it.skip;

describe(`soak: 10 minutes at half the measured registration throughput${CHAOS_FULL ? '' : ' (skipped: runs only with PUSHLEDGER_CHAOS_FULL=1, npm run test:chaos)'}`, () => {
  let sim: FcmSimulator;
  let stack: Stack;
  let app: TestApp;

  beforeAll(async () => {
    if (!CHAOS_FULL) return;
    sim = await FcmSimulator.start({ certDir: path.join(repoRoot, '.data/fcm-sim-test') });
    ({ stack, app } = await startChaosStack(sim, undefined, {}, { projector: ['--cache', String(PROJECTOR_CACHE)] }));
  });
  afterAll(async () => {
    await stack?.stop();
    await sim?.stop();
  });

  soak('no process keeps growing, nothing acknowledged is lost, duplicated or reordered', async () => {
    // Registrations at half the measured rate: most devices only register; every WHOLE_SCRIPT_EVERY-th runs
    // the whole script, a push included (the steady fan-out). Operations are paced so registrations hit it.
    const registrationsPerSecond = Math.round(measuredRegistrationsPerSecond() / 2);
    const cycle = { ops: WHOLE_SCRIPT_EVERY - 1 + 6, registrations: WHOLE_SCRIPT_EVERY - 1 + 2 };
    const rate = Math.round((registrationsPerSecond * cycle.ops) / cycle.registrations);
    const h = new ChaosHarness('soak', stack, app, sim);
    const samples: { t: number; rss: Record<string, number> }[] = [];
    const started = Date.now();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples.push({ t: Math.round((Date.now() - started) / 1000), rss: h.rss() });
        h.record({ kind: 'rss', ...samples[samples.length - 1] });
        await new Promise((r) => setTimeout(r, SAMPLE_MS));
      }
    })();
    let report;
    try {
      h.startSupervisor();
      const devices = Math.ceil(((rate * DURATION_MS) / 1000 / cycle.ops) * WHOLE_SCRIPT_EVERY) + 50;
      await h.runLoad('soak', { devices, concurrency: 96, pushes: true, wholeScriptEvery: WHOLE_SCRIPT_EVERY, ratePerSec: rate, deadlineMs: DURATION_MS });
      sampling = false;
      await sampler;
      report = await h.verify();
    } finally {
      sampling = false;
      await h.close();
    }
    const seconds = (Date.now() - started) / 1000;
    const parts = Object.keys(samples[0]?.rss ?? {});
    const growth = Object.fromEntries(
      parts.map((part) => {
        const series = samples.filter((s) => s.rss[part] !== undefined).map((s) => [s.t, s.rss[part]] as [number, number]);
        const half = floors(series, FLOOR_WINDOW_S).filter(([t]) => t >= DURATION_MS / 2000);
        const k = slope(half);
        return [
          part,
          {
            firstKb: series[0]?.[1],
            lastKb: series[series.length - 1]?.[1],
            maxKb: Math.max(...series.map((p) => p[1])),
            secondHalfFloorsKb: half.map(([, y]) => y),
            secondHalfFloorSlopeKbPerS: Math.round(k * 100) / 100,
            growing: k > MAX_SLOPE_KB_PER_S,
          },
        ];
      }),
    );
    const file = writeResults('soak', {
      method: {
        durationSeconds: DURATION_MS / 1000,
        targetRegistrationsPerSecond: registrationsPerSecond,
        targetOpsPerSecond: rate,
        basis: 'registrations at half of max(bench/results/ingest.json http[].registrationsPerSecond)',
        sampleSeconds: SAMPLE_MS / 1000,
        growthTest: `least-squares slope of each ${FLOOR_WINDOW_S} s window's lowest RSS over the second half`,
        maxSlopeKbPerS: MAX_SLOPE_KB_PER_S,
        projectorCacheDocuments: PROJECTOR_CACHE,
        script: `every ${WHOLE_SCRIPT_EVERY}th device: register, identify, push, logout, register a new token, identify; the others: register`,
      },
      achieved: {
        seconds: Math.round(seconds),
        ops: report.ops,
        acked: report.acked,
        ackedByKind: report.ackedByKind,
        opsPerSecond: Math.round((report.acked / (DURATION_MS / 1000)) * 10) / 10,
        registrationsPerSecond: Math.round(((report.ackedByKind.register ?? 0) / (DURATION_MS / 1000)) * 10) / 10,
        pushes: report.pushes,
        pushesSent: report.pushesSent,
        problems: report.problems.length,
      },
      growth,
      samples,
    });
    process.stderr.write(`soak: ${file}\n${JSON.stringify(growth)}\n`);
    expectSound(report, { faults: false });
    // A soak that ran slow, leaned on restarts or missed a process's memory shows nothing about leaks.
    expect(report.supervisorRestarts).toBe(0);
    expect(report.acked / (DURATION_MS / 1000)).toBeGreaterThanOrEqual(MIN_RATE_SHARE * rate);
    const everyPart = [...stack.procs.keys()];
    expect(samples.length).toBeGreaterThan(2);
    expect(samples.filter((s) => everyPart.some((p) => s.rss[p] === undefined)).map((s) => s.t)).toEqual([]);
    expect(Object.entries(growth).filter(([, g]) => g.growing).map(([p]) => p)).toEqual([]);
  }, 40 * 60_000);
});
