/**
 * Registration throughput end to end, on a whole local stack (gateway, registration, identity, relay as
 * real processes, like the integration harness starts them), a fresh stack per scenario:
 *  - HTTP: `POST /v1/devices` with a write key (a new device each time; 201 means the fact is stored),
 *    N requests at each concurrency over keep-alive connections: registrations/s (overall and per 10 s
 *    window), p50/p99 latency, CPU of each process per 1,000 registrations;
 *  - Kafka: Intilery `register push` messages published straight to the ingest topic, timed until the
 *    registration service has committed past the last one.
 * Each scenario also samples pg_stat_activity (which statements keep PostgreSQL busy, and on what they
 * wait). Results: bench/results/ingest.json. Needs a build (`bash scripts/build.sh`) and the local engines.
 *
 *   bash bench/ingest/run.sh [--requests 20000] [--concurrency 32,128] [--max-seconds 120] [--warmup 1000]
 *                            [--ingest 10000] [--profile <dir>]
 *
 * `--profile <dir>`: V8 CPU profiles of every service over each measured window (bench/lib/cpu-profiler.preload.js),
 * summarised on stdout; results are then not written.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { Client } from 'pg';
import { groupFor, topicsFor } from '@pushledger/contracts';
import { createProducer } from '@pushledger/kafka';
import { Stack, startStack, StackPart, TestApp, testKafka } from '@pushledger/testing';
import { ActivityReport, samplePgActivity } from '../lib/pg-activity';
import { CpuMeter } from '../lib/process-cpu';
import { profilingEnv, toggleProfiles } from '../lib/profiles';
import { writeResults } from '../lib/results';
import { latencySummary, round } from '../lib/stats';

const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const REQUESTS = Number(arg('requests') ?? 20_000);
const CONCURRENCY = (arg('concurrency') ?? '32,128').split(',').map(Number).filter((c) => c > 0);
const MAX_SECONDS = Number(arg('max-seconds') ?? 120);
const WARMUP = Number(arg('warmup') ?? 1000);
const INGEST = Number(arg('ingest') ?? 10_000);
const PROFILE_DIR = arg('profile') ? path.resolve(arg('profile')!) : undefined;
const PARTS: StackPart[] = ['gateway', 'registration', 'identity', 'relay'];
const repoRoot = path.resolve(__dirname, '../..');

const log = (s: string) => process.stdout.write(s + '\n');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function assertAlive(stack: Stack): void {
  for (const [part, p] of stack.procs) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) throw new Error(`${part} exited (${p.child.exitCode ?? p.child.signalCode}): ${p.logs().slice(-2000)}`);
  }
}

interface RunResult {
  statuses: Record<string, number>;
  latencies: number[];
  seconds: number;
  /** Successes per second in consecutive windows of WINDOW_SECONDS: shows a slowdown as the store grows. */
  perWindow: number[];
}

const WINDOW_SECONDS = 10;

/** POSTs one JSON body; resolves with the status (0 for a transport error) and the latency in ms. */
function post(agent: http.Agent, base: URL, route: string, body: string, key: string): Promise<{ status: number; ms: number }> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve) => {
    const req = http.request(
      { agent, host: base.hostname, port: base.port, path: route, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${key}` } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
        res.on('error', () => resolve({ status: 0, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
      },
    );
    req.on('error', () => resolve({ status: 0, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    req.end(body);
  });
}

const PLATFORMS = ['android', 'ios', 'web'] as const;

/** `requests` registrations of new devices by `concurrency` clients, stopping early at `maxSeconds`. */
async function registrations(stack: Stack, app: TestApp, label: string, concurrency: number, requests: number, maxSeconds: number): Promise<RunResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const base = new URL(stack.url);
  const statuses: Record<string, number> = {};
  const latencies: number[] = [];
  const windows: number[] = [];
  const started = Date.now();
  const deadline = started + maxSeconds * 1000;
  const salt = randomBytes(4).toString('hex');
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests && Date.now() < deadline) {
        const i = next++;
        const body = JSON.stringify({
          deviceId: `${label}-${salt}-${i}`,
          token: `${label}:${salt}:${i}:${randomBytes(60).toString('base64url')}`,
          provider: 'fcm',
          platform: PLATFORMS[i % 3],
          model: 'Pixel 8',
          osVersion: '14',
          appVersion: '4.2.1',
          locale: 'en-GB',
          timezone: 'Europe/London',
        });
        const { status, ms } = await post(agent, base, '/v1/devices', body, app.writeKey);
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status === 201) {
          latencies.push(ms);
          const w = Math.floor((Date.now() - started) / (WINDOW_SECONDS * 1000));
          windows[w] = (windows[w] ?? 0) + 1;
        }
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  agent.destroy();
  // The last window is partial: left out.
  const perWindow = Array.from({ length: Math.max(0, Math.floor(seconds / WINDOW_SECONDS)) }, (_, i) => Math.round((windows[i] ?? 0) / WINDOW_SECONDS));
  return { statuses, latencies, seconds, perWindow };
}

/** Publishes `count` Intilery `register push` messages to the ingest topic and waits until all are committed. */
async function kafkaIngest(stack: Stack, app: TestApp, count: number, maxSeconds: number): Promise<{ seconds: number; publishSeconds: number; done: boolean }> {
  const topics = topicsFor(stack.suffix);
  const kafka = testKafka();
  const producer = createProducer(kafka);
  const admin = kafka.admin();
  await Promise.all([producer.connect(), admin.connect()]);
  try {
    const salt = randomBytes(4).toString('hex');
    const messages = Array.from({ length: count }, (_, i) => {
      const deviceId = `ing-${salt}-${i}`;
      const body = {
        type: 'track',
        event: 'register push',
        userId: i % 3 === 0 ? `user-${salt}-${i}` : deviceId,
        messageId: `m-${salt}-${i}`,
        properties: { deviceId, fcmToken: `fcm:${salt}:${i}:${randomBytes(60).toString('base64url')}`, deviceType: ['iOS', 'Android', 'Web'][i % 3] },
        writeKey: app.writeKey,
      };
      return { key: deviceId, value: JSON.stringify(body) };
    });
    const groupId = groupFor('pushledger-registration-ingest', stack.suffix);
    const t0 = Date.now();
    for (let i = 0; i < messages.length; i += 500) await producer.send({ topic: topics.ingest, acks: -1, messages: messages.slice(i, i + 500) });
    const publishSeconds = (Date.now() - t0) / 1000;
    const ends = new Map((await admin.fetchTopicOffsets(topics.ingest)).map((p) => [p.partition, p.high]));
    let done = false;
    for (const deadline = Date.now() + maxSeconds * 1000; !done && Date.now() < deadline; await sleep(200)) {
      assertAlive(stack);
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topics.ingest] });
      done = committed.partitions.every((p) => p.offset === ends.get(p.partition));
    }
    return { seconds: (Date.now() - t0) / 1000, publishSeconds, done };
  } finally {
    await Promise.all([producer.disconnect(), admin.disconnect()]).catch(() => undefined);
  }
}

/** Event-store statements by what they are for (see libs/event-store/src/postgres-event-store.ts). */
function statementKind(query: string): string {
  if (/global_position/.test(query)) return 'append';
  if (/WHERE stream_id = \$1/.test(query)) return 'readStream';
  if (/ORDER BY position/.test(query)) return /LIKE ANY|type = ANY/.test(query) ? 'page, filtered (subscriptions)' : 'page, unfiltered (subscriptions, readAll)';
  if (/checkpoints/.test(query)) return 'checkpoint';
  return query.replace(/\s+/g, ' ').trim().slice(0, 60);
}

function pidFile(name: string): number[] {
  const dir = process.env.PUSHLEDGER_DATA_DIR ?? path.join(repoRoot, '.data');
  try {
    return [Number(fs.readFileSync(path.join(dir, 'run', `${name}.pid`), 'utf8').trim())].filter((p) => p > 0);
  } catch {
    return [];
  }
}

interface Scenario {
  stack: Stack;
  app: TestApp;
  measure<T>(label: string, run: () => Promise<T>, successes: (r: T) => number): Promise<{ result: T; cpuMsPer1000: Record<string, number | null>; pgActivity: ActivityReport; eventsInStore: number }>;
}

/** A fresh stack (own database, topics) for one scenario, so scenarios do not inherit each other's store size. */
async function withStack<T>(extraEnv: Record<string, string>, body: (s: Scenario) => Promise<T>): Promise<T> {
  const stack = await startStack(PARTS, extraEnv);
  const pg = new Client({ connectionString: stack.env.POSTGRES_URL });
  const pgSampler = new Client({ connectionString: stack.env.POSTGRES_URL });
  try {
    await Promise.all([pg.connect(), pgSampler.connect()]);
    const app = await stack.createApp({ rateLimitPerSecond: 1_000_000 }, 'bench');
    const service = (part: StackPart) => () => [stack.procs.get(part)?.child.pid].filter((p): p is number => !!p);
    const meter = new CpuMeter({
      gateway: service('gateway'),
      registration: service('registration'),
      identity: service('identity'),
      relay: service('relay'),
      postgresBackends: async () => (await pg.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)).rows.map((r) => r.pid),
      benchClient: () => [process.pid],
      kafkaBrokerShared: () => pidFile('kafka'),
    });
    return await body({
      stack,
      app,
      async measure(label, run, successes) {
        await meter.start();
        await toggleProfiles(stack, PROFILE_DIR, log);
        const activity = samplePgActivity(pgSampler, statementKind);
        const result = await run();
        const cpu = await meter.stop();
        const pgActivity = await activity.stop();
        await toggleProfiles(stack, PROFILE_DIR, log, label, ['gateway', 'registration']);
        assertAlive(stack);
        const n = successes(result);
        const cpuMsPer1000 = Object.fromEntries(Object.entries(cpu).map(([k, ms]) => [k, ms === null || n === 0 ? null : round((ms / n) * 1000, 0)]));
        const { rows } = await pg.query<{ n: string }>(`SELECT count(*) AS n FROM event_store.events`);
        log(`  postgres: ${pgActivity.averageActive} busy backends on average; statements ${JSON.stringify(pgActivity.byStatement)}; waits ${JSON.stringify(pgActivity.byWait)}`);
        return { result, cpuMsPer1000, pgActivity, eventsInStore: Number(rows[0].n) };
      },
    });
  } finally {
    await Promise.all([pg.end(), pgSampler.end()]).catch(() => undefined);
    await stack.stop();
  }
}

async function main(): Promise<void> {
  const extraEnv: Record<string, string> = { LOG_LEVEL: 'warn' };
  Object.assign(extraEnv, profilingEnv(PROFILE_DIR));
  log(`ingest bench: ${REQUESTS} registrations at concurrency ${CONCURRENCY.join(', ')} (max ${MAX_SECONDS} s each), ${INGEST} Kafka messages, a fresh stack each${PROFILE_DIR ? `, profiling into ${PROFILE_DIR}` : ''}`);

  const httpRuns: Record<string, unknown>[] = [];
  for (const concurrency of CONCURRENCY) {
    httpRuns.push(
      await withStack(extraEnv, async ({ stack, app, measure }) => {
        if (WARMUP > 0) {
          const w = await registrations(stack, app, 'warmup', Math.min(32, concurrency), WARMUP, 60);
          log(`warm-up: ${JSON.stringify(w.statuses)} in ${w.seconds.toFixed(1)} s`);
        }
        const label = `c${concurrency}`;
        const m = await measure(label, () => registrations(stack, app, label, concurrency, REQUESTS, MAX_SECONDS), (r) => r.statuses['201'] ?? 0);
        const r = m.result;
        const ok = r.statuses['201'] ?? 0;
        const result = {
          concurrency,
          requests: Object.values(r.statuses).reduce((a, b) => a + b, 0),
          created: ok,
          statuses: r.statuses,
          seconds: round(r.seconds, 2),
          registrationsPerSecond: round(ok / r.seconds, 0),
          perWindow: r.perWindow,
          latencyMs: latencySummary(r.latencies),
          cpuMsPer1000Registrations: m.cpuMsPer1000,
          eventsInStoreAtEnd: m.eventsInStore,
          pgActivity: m.pgActivity,
        };
        log(
          `POST /v1/devices x${concurrency}: ${ok}/${result.requests} created in ${result.seconds} s = ${result.registrationsPerSecond}/s (per ${WINDOW_SECONDS} s: ${r.perWindow.join(' ')})  ` +
            `p50 ${result.latencyMs.p50} ms p99 ${result.latencyMs.p99} ms  cpu ms/1k ${JSON.stringify(result.cpuMsPer1000Registrations)}`,
        );
        return result;
      }),
    );
  }

  let ingest: Record<string, unknown> | null = null;
  if (INGEST > 0) {
    ingest = await withStack(extraEnv, async ({ stack, app, measure }) => {
      const m = await measure('kafka-ingest', () => kafkaIngest(stack, app, INGEST, MAX_SECONDS * 2), () => INGEST);
      const r = m.result;
      const result = {
        messages: INGEST,
        completed: r.done,
        publishSeconds: round(r.publishSeconds, 2),
        seconds: round(r.seconds, 2),
        messagesPerSecond: r.done ? round(INGEST / r.seconds, 0) : null,
        cpuMsPer1000Messages: m.cpuMsPer1000,
        eventsInStoreAtEnd: m.eventsInStore,
        pgActivity: m.pgActivity,
      };
      log(`Kafka ingest: ${INGEST} register push ${r.done ? `applied in ${result.seconds} s = ${result.messagesPerSecond}/s` : 'NOT all applied in time'}  cpu ms/1k ${JSON.stringify(result.cpuMsPer1000Messages)}`);
      return result;
    });
  }

  if (PROFILE_DIR) {
    log('profiled run: results not written');
    return;
  }
  const file = writeResults('ingest', {
    method: {
      stack: PARTS,
      freshStackPerScenario: true,
      http: 'POST /v1/devices (write key, Bearer), a new device per request, node:http keep-alive agent with one socket per client; latency of 201s only; perWindow = 201s per second in consecutive windows',
      requestsPerRun: REQUESTS,
      maxSecondsPerRun: MAX_SECONDS,
      warmupRequests: WARMUP,
      kafka: 'Intilery register push messages (1/3 signed in), published in batches of 500, timed until the ingest consumer group has committed the last offset',
      cpu: 'utime+stime from /proc per 1,000 successes; postgresBackends = the backends of this stack database; *Shared = engines other users of the machine also load (indicative only)',
      pgActivity: 'pg_stat_activity of the stack database sampled every 20 ms: share of busy backends by statement kind and by wait event (cpu = running)',
    },
    http: httpRuns,
    kafkaIngest: ingest,
  });
  log(`written ${path.relative(process.cwd(), file)}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
