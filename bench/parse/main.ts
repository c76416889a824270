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
import * as http from 'node:http';
import { loadConfig } from '@pushledger/config';
import { waitFor } from '@pushledger/testing';
import { post } from '../lib/http-load';
import { machineInfo } from '../lib/machine';
import { PARSE_HEADERS, PARSE_MASTER_KEY, parseInstallations, startParseServer } from '../lib/parse-server';
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

const log = (message: string, fields: Record<string, unknown> = {}) => process.stderr.write(`${JSON.stringify({ t: new Date().toISOString().slice(11, 19), message, ...fields })}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const loadAtStart = machineInfo().loadAverage;
  const parse = await startParseServer(loadConfig().eventStore.postgresUrl);
  const { sim, pg, versions } = parse;
  try {
    log('parse-server up', { url: parse.url.toString(), versions });
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const meter = new CpuMeter({
      parseServer: () => (parse.pid ? [parse.pid] : []),
      postgresBackends: () => parse.backendPids(),
      benchAndSimulator: () => [process.pid],
    });

    // ------------------------------------------------------------------ registration
    const warm = await parseInstallations(parse, { concurrency: CONCURRENCY, requests: WARMUP, label: 'warmup' });
    if (!warm.successes) throw new Error(`installations: ${warm.firstError}`);
    await meter.start();
    const reg = await parseInstallations(parse, { concurrency: CONCURRENCY, requests: REGISTRATIONS, label: 'run' });
    const regCpu = await meter.stop();
    const created = reg.successes;
    const registration = {
      route: 'POST /parse/installations (application id + client key, like our write key; a new Android installation per request)',
      concurrency: CONCURRENCY,
      requests: REGISTRATIONS,
      created,
      statuses: reg.statuses,
      firstError: reg.firstError,
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
      const answer = await post(agent, parse.url, '/parse/push', JSON.stringify({ where: { deviceType: 'android' }, data: { alert: 'Big news', title: 'Bench' } }), { ...PARSE_HEADERS, 'x-parse-master-key': PARSE_MASTER_KEY });
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
        database: `PostgreSQL, its own database on the same server as ours (${parse.dbName}, dropped at the end), Parse's postgres adapter (pg-promise) with its default pool`,
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
    await parse.stop();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
