/**
 * The peer: Parse Server (npm parse-server, its own process) on the same PostgreSQL server (its own
 * database), pushing through its FCM adapter (@parse/push-adapter, firebase-admin) to the same FCM
 * simulator as ours. Measures what has an equivalent in our benches:
 *  - registration: `POST /parse/installations` (a new Android installation per request) at the same
 *    concurrency as bench/ingest's `POST /v1/devices`;
 *  - push: `POST /parse/push` to every Android installation, timed until the simulator received the last one.
 * The summary (bench/summary.ts) reports ours / Parse's. Configuration: bench/parse/README.md.
 *
 *   node -r ./libs/event-store/src/testing/ts-register.js bench/parse/main.ts [--registrations 5000] [--concurrency 32] [--runs 3]
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { Client } from 'pg';
import { loadConfig } from '@pushledger/config';
import { FcmSimulator } from '@pushledger/fcm';
import { freePort, repoRoot, waitFor } from '@pushledger/testing';
import { machineInfo } from '../lib/machine';
import { CpuMeter } from '../lib/process-cpu';
import { writeResults } from '../lib/results';
import { latencySummary, round } from '../lib/stats';

const argv = process.argv.slice(2);
const arg = (name: string, fallback: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const REGISTRATIONS = arg('registrations', 5000);
const CONCURRENCY = arg('concurrency', 32);
const RUNS = arg('runs', 3);
const WARMUP = 200;
const MAX_PUSH_SECONDS = arg('max-push-seconds', 300);
const HEADERS = { 'x-parse-application-id': 'bench', 'x-parse-client-key': 'bench-client-key', 'content-type': 'application/json' };

const log = (message: string, fields: Record<string, unknown> = {}) => process.stderr.write(`${JSON.stringify({ t: new Date().toISOString().slice(11, 19), message, ...fields })}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const packageVersion = (name: string): string => (JSON.parse(fs.readFileSync(path.join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function post(agent: http.Agent, port: number, route: string, body: string, headers: Record<string, string>): Promise<{ status: number; ms: number; text: string }> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve) => {
    const req = http.request({ agent, host: '127.0.0.1', port, path: route, method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: Number(process.hrtime.bigint() - t0) / 1e6, text }));
      res.on('error', () => resolve({ status: 0, ms: Number(process.hrtime.bigint() - t0) / 1e6, text: '' }));
    });
    req.on('error', (err) => resolve({ status: 0, ms: Number(process.hrtime.bigint() - t0) / 1e6, text: err.message }));
    req.end(body);
  });
}

async function register(agent: http.Agent, port: number, n: number, concurrency: number, seq: { i: number }) {
  const statuses: Record<string, number> = {};
  const latencies: number[] = [];
  let firstError: string | undefined;
  const t = performance.now();
  let left = n;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) {
        const i = seq.i++;
        const body = JSON.stringify({ deviceType: 'android', pushType: 'gcm', installationId: randomUUID(), deviceToken: `ok:parse${i}-${randomBytes(60).toString('base64url')}`, appIdentifier: 'com.example.bench', localeIdentifier: 'en-GB', timeZone: 'Europe/London' });
        const r = await post(agent, port, '/parse/installations', body, HEADERS);
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        if (r.status === 201) latencies.push(r.ms);
        else firstError ??= `${r.status} ${r.text.slice(0, 300)}`;
      }
    }),
  );
  return { statuses, latencies, seconds: (performance.now() - t) / 1000, firstError };
}

async function main(): Promise<void> {
  const loadAtStart = machineInfo().loadAverage;
  const config = loadConfig();
  const admin = new Client({ connectionString: config.eventStore.postgresUrl });
  await admin.connect();
  const dbName = `parse_bench_${randomBytes(3).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${dbName}`);
  const dbUrl = new URL(config.eventStore.postgresUrl);
  dbUrl.pathname = `/${dbName}`;
  const sim = await FcmSimulator.start({ certDir: path.join(repoRoot, '.data/fcm-sim-bench') });
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(repoRoot, 'bench/parse/server.js')], {
    cwd: repoRoot,
    env: { ...process.env, PARSE_PORT: String(port), PARSE_DATABASE_URI: dbUrl.toString(), FCM_ENDPOINT: sim.url, FCM_CA_FILE: sim.caFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-20000)));
  child.stderr.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-20000)));
  const pg = new Client({ connectionString: dbUrl.toString() });
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`parse-server exited: ${output}`);
      return (await fetch(`http://127.0.0.1:${port}/parse/health`).catch(() => null))?.status === 200;
    }, { what: 'parse-server to be healthy', timeoutMs: 60000 });
    await pg.connect();
    const versions = {
      parseServer: packageVersion('parse-server'),
      pushAdapter: packageVersion('@parse/push-adapter'),
      postgres: (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version,
    };
    log('parse-server up', { port, versions });
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const meter = new CpuMeter({
      parseServer: () => (child.pid ? [child.pid] : []),
      postgresBackends: async () => (await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [dbName])).rows.map((r) => r.pid),
      benchAndSimulator: () => [process.pid],
    });

    // ------------------------------------------------------------------ registration
    const seq = { i: 0 };
    const warm = await register(agent, port, WARMUP, CONCURRENCY, seq);
    if (!warm.statuses['201']) throw new Error(`installations: ${warm.firstError}`);
    await meter.start();
    const reg = await register(agent, port, REGISTRATIONS, CONCURRENCY, seq);
    const regCpu = await meter.stop();
    const created = reg.statuses['201'] ?? 0;
    const registration = {
      route: 'POST /parse/installations (application id + client key, like our write key; a new Android installation per request)',
      concurrency: CONCURRENCY,
      requests: REGISTRATIONS,
      created,
      statuses: reg.statuses,
      firstError: reg.firstError ?? null,
      seconds: round(reg.seconds, 2),
      registrationsPerSecond: round(created / reg.seconds, 0),
      latencyMs: latencySummary(reg.latencies),
      cpuMsPer1000Registrations: Object.fromEntries(Object.entries(regCpu).map(([k, v]) => [k, round(v === null ? null : (v / Math.max(1, created)) * 1000, 0)])),
    };
    log('registration', registration);

    // ------------------------------------------------------------------ push to every installation
    const installations = Number((await pg.query<{ n: string }>(`SELECT count(*) AS n FROM "_Installation" WHERE "deviceType" = 'android'`)).rows[0].n);
    const pushes = [];
    for (let run = 1; run <= RUNS; run++) {
      sim.reset();
      await meter.start();
      const t0 = Date.now();
      const answer = await post(agent, port, '/parse/push', JSON.stringify({ where: { deviceType: 'android' }, data: { alert: 'Big news', title: 'Bench' } }), { ...HEADERS, 'x-parse-master-key': 'bench-master-key' });
      const answeredMs = Date.now() - t0;
      if (answer.status !== 200) throw new Error(`push: ${answer.status} ${answer.text}`);
      let lastSendMs: number | undefined;
      while (Date.now() - t0 < MAX_PUSH_SECONDS * 1000) {
        const rec = sim.requests();
        if (rec.length >= installations) {
          lastSendMs = rec[installations - 1].time - t0;
          break;
        }
        await sleep(100);
      }
      // Parse records the outcome in _PushStatus once every batch is answered.
      let statusMs: number | undefined;
      let pushStatus: Record<string, unknown> | undefined;
      await waitFor(async () => {
        const { rows } = await pg.query(`SELECT status, "numSent", "numFailed", "sentPerType", "failedPerType" FROM "_PushStatus" ORDER BY "createdAt" DESC LIMIT 1`);
        pushStatus = rows[0];
        if (rows[0]?.status === 'succeeded' || rows[0]?.status === 'failed') statusMs = Date.now() - t0;
        return statusMs !== undefined;
      }, { what: 'the push status', timeoutMs: MAX_PUSH_SECONDS * 1000, intervalMs: 100 }).catch(() => undefined);
      const cpu = await meter.stop();
      const received = sim.requests();
      const result = {
        run,
        installations,
        received: received.length,
        statuses: received.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.status]: (acc[r.status] ?? 0) + 1 }), {}),
        answeredSeconds: round(answeredMs / 1000, 2),
        timeToFirstSendSeconds: round(received.length ? (received[0].time - t0) / 1000 : null, 2),
        timeToLastSendSeconds: round(lastSendMs === undefined ? null : lastSendMs / 1000, 2),
        pushesPerSecond: lastSendMs === undefined ? null : round((installations / lastSendMs) * 1000, 0),
        pushStatusSeconds: round(statusMs === undefined ? null : statusMs / 1000, 2),
        pushStatus: pushStatus ?? null,
        cpuMsPer1000Pushes: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, round(v === null ? null : (v / Math.max(1, received.length)) * 1000, 0)])),
      };
      log('push', result);
      pushes.push(result);
      if (lastSendMs === undefined) break;
    }
    const rates = pushes.map((p) => p.pushesPerSecond).filter((x): x is number => x !== null);
    writeResults('parse', {
      loadAverage: { atStart: loadAtStart, atEnd: machineInfo().loadAverage },
      versions,
      configuration: {
        process: 'one Node process (bench/parse/server.js): express + ParseServer mounted at /parse, logLevel error; no cluster, like each of our services',
        database: `PostgreSQL, its own database on the same server as ours (${dbName}, dropped at the end), Parse's postgres adapter (pg-promise) with its default pool`,
        push: 'the built-in push adapter (@parse/push-adapter FCM, firebase-admin 13 sendEachForMulticast in slices of 500) with the default in-process push queue; firebase-admin redirected to the simulator by wrapping http2.connect as libs/fcm does, and a fixed access token (the default app created before the adapter, so cert() and Google OAuth are not used)',
        fcmSimulator: 'the same FcmSimulator, 0 ms latency, in the bench process',
        registration: `the same client loop as bench/ingest (node:http keep-alive, ${CONCURRENCY} concurrent requests, 201s counted) after ${WARMUP} warm-up requests`,
      },
      registration,
      push: {
        route: "POST /parse/push { where: { deviceType: 'android' } } with the master key",
        runs: pushes,
        pushesPerSecond: { median: rates.length ? median(rates) : null, runs: rates },
        timeToLastSendSeconds: { median: pushes.length && rates.length ? median(pushes.map((p) => p.timeToLastSendSeconds ?? Infinity)) : null },
      },
    });
  } finally {
    child.kill('SIGTERM');
    await sleep(500);
    if (child.exitCode === null) child.kill('SIGKILL');
    await pg.end().catch(() => undefined);
    await sim.stop().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
