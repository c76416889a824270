/**
 * The whole write path end to end, on a whole local stack (gateway, registration, identity, relay and
 * projector as real processes, like the integration harness starts them), a fresh stack per concurrency,
 * with Parse Server measured in the same run:
 *  - `POST /v1/devices` with a write key (a new device each time; 201 means the fact is stored), N requests
 *    at each concurrency over keep-alive connections: registrations/s (overall and per 10 s window),
 *    p50/p99 latency, CPU of every process per 1,000 registrations;
 *  - right after, Parse Server's `POST /parse/installations` at the same concurrency (a fresh Parse, its own
 *    database on the same PostgreSQL server): ratio = ours / Parse's;
 *  - `POST /v1/identify { userId, deviceId }` on the devices of the registration phase (a new user each), then
 *    `POST /v1/logout { deviceId }` on the identified ones, at the same concurrency;
 *  - Kafka: Intilery `register push` messages published straight to the ingest topic, timed until the
 *    registration service has committed past the last one (stored, not just published).
 * Each phase's CPU window runs until its effects are applied: the identity service's links or unlinks are in
 * the store and the projector has reached the store's head; the time that took after the last answer is
 * `appliedSeconds`. CPU groups: each service, the PostgreSQL backends of the stack's database, and the
 * engines other users of the machine share (`*Shared`: PostgreSQL's own processes, FerretDB and its
 * PostgreSQL backends, the Kafka broker). Each phase also samples pg_stat_activity. Results:
 * bench/results/ingest.json (BENCH_RESULTS_DIR elsewhere). Needs a build (`bash scripts/build.sh`) and the local engines.
 *
 *   bash bench/ingest/run.sh [--requests 20000] [--concurrency 32,128] [--max-seconds 120] [--warmup 1000]
 *                            [--ingest 10000] [--no-parse] [--profile <dir>]
 *
 * `--profile <dir>`: V8 CPU profiles of every service over each measured window (bench/lib/cpu-profiler.preload.js),
 * summarised on stdout; results are then not written.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import mongoose from 'mongoose';
import { Client } from 'pg';
import { groupFor, topicsFor } from '@pushledger/contracts';
import { createEventStore, type EventStore } from '@pushledger/event-store';
import { createProducer } from '@pushledger/kafka';
import { lastProjectedPosition, ReadModels } from '@pushledger/read-models';
import { Stack, startStack, StackPart, TestApp, testConfig, testKafka } from '@pushledger/testing';
import { enginePid, ferretdbDatabase } from '../lib/engine-pids';
import { closedLoop, LoadResult, WINDOW_SECONDS } from '../lib/http-load';
import { parseInstallations, startParseServer } from '../lib/parse-server';
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
const PARSE = !argv.includes('--no-parse');
const PROFILE_DIR = arg('profile') ? path.resolve(arg('profile')!) : undefined;
const PARTS: StackPart[] = ['gateway', 'registration', 'identity', 'relay', 'projector'];
/** How long, at most, a phase's effects may take to be applied after its last answer. */
const APPLY_TIMEOUT_SECONDS = Math.max(60, MAX_SECONDS * 2);
/** Idle window before the measured phases: what every process burns with no load from this bench. */
const IDLE_SECONDS = 3;
/** The bench's own PostgreSQL connections, left out of the stack's backends. */
const BENCH_APPLICATION = 'pushledger-bench';
const BENCH_CLIENT = 'benchClient';

const log = (s: string) => process.stdout.write(s + '\n');

function assertAlive(stack: Stack): void {
  for (const [part, p] of stack.procs) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) throw new Error(`${part} exited (${p.child.exitCode ?? p.child.signalCode}): ${p.logs().slice(-2000)}`);
  }
}

const POLL_MS = 200;

/** Polls `probe` until it holds (true) or `timeoutMs` passed (false); fails at once when a part of the stack has exited. */
async function until(stack: Stack, probe: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, POLL_MS))) {
    assertAlive(stack);
    if (await probe()) return true;
    if (Date.now() >= deadline) return false;
  }
}

const PLATFORMS = ['android', 'ios', 'web'] as const;

/** `requests` registrations of new devices by `concurrency` clients; the ids of the devices created. */
async function registrations(stack: Stack, app: TestApp, label: string, concurrency: number, requests: number, maxSeconds: number): Promise<LoadResult & { deviceIds: string[] }> {
  const salt = randomBytes(4).toString('hex');
  const deviceId = (i: number) => `${label}-${salt}-${i}`;
  const r = await closedLoop({
    base: new URL(stack.url),
    concurrency,
    requests,
    maxSeconds,
    okStatus: 201,
    headers: { authorization: `Bearer ${app.writeKey}` },
    request: (i) => ({
      route: '/v1/devices',
      body: JSON.stringify({
        deviceId: deviceId(i),
        token: `${label}:${salt}:${i}:${randomBytes(60).toString('base64url')}`,
        provider: 'fcm',
        platform: PLATFORMS[i % 3],
        model: 'Pixel 8',
        osVersion: '14',
        appVersion: '4.2.1',
        locale: 'en-GB',
        timezone: 'Europe/London',
      }),
    }),
  });
  return { ...r, deviceIds: r.succeeded.map(deviceId) };
}

/** `POST /v1/identify` of each device as a new user; the ids of the devices identified. */
async function identifies(stack: Stack, app: TestApp, deviceIds: string[], concurrency: number, maxSeconds: number): Promise<LoadResult & { deviceIds: string[] }> {
  const salt = randomBytes(4).toString('hex');
  const r = await closedLoop({
    base: new URL(stack.url),
    concurrency,
    requests: deviceIds.length,
    maxSeconds,
    okStatus: 200,
    headers: { authorization: `Bearer ${app.writeKey}` },
    request: (i) => ({ route: '/v1/identify', body: JSON.stringify({ userId: `user-${salt}-${i}`, deviceId: deviceIds[i] }) }),
  });
  return { ...r, deviceIds: r.succeeded.map((i) => deviceIds[i]) };
}

/** `POST /v1/logout` of each device. */
function logouts(stack: Stack, app: TestApp, deviceIds: string[], concurrency: number, maxSeconds: number): Promise<LoadResult> {
  return closedLoop({
    base: new URL(stack.url),
    concurrency,
    requests: deviceIds.length,
    maxSeconds,
    okStatus: 200,
    headers: { authorization: `Bearer ${app.writeKey}` },
    request: (i) => ({ route: '/v1/logout', body: JSON.stringify({ deviceId: deviceIds[i] }) }),
  });
}

/** Publishes `count` Intilery `register push` messages to the ingest topic and waits until all are committed (stored). */
async function kafkaIngest(stack: Stack, app: TestApp, count: number, maxSeconds: number): Promise<{ seconds: number; publishSeconds: number; done: boolean; signedIn: number }> {
  const topics = topicsFor(stack.suffix);
  const kafka = testKafka();
  const producer = createProducer(kafka);
  const admin = kafka.admin();
  await Promise.all([producer.connect(), admin.connect()]);
  try {
    const salt = randomBytes(4).toString('hex');
    let signedIn = 0;
    const messages = Array.from({ length: count }, (_, i) => {
      const deviceId = `ing-${salt}-${i}`;
      if (i % 3 === 0) signedIn++;
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
    const done = await until(
      stack,
      async () => {
        const [committed] = await admin.fetchOffsets({ groupId, topics: [topics.ingest] });
        return committed.partitions.every((p) => p.offset === ends.get(p.partition));
      },
      maxSeconds * 1000,
    );
    return { seconds: (Date.now() - t0) / 1000, publishSeconds, done, signedIn };
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

const portOf = (url: string, fallback: number) => Number(new URL(url).port) || fallback;

/** ms per 1,000 successes by group, and their total over every process but the bench's own (null when nothing succeeded). */
function per1000(cpu: Record<string, number | null>, successes: number): { byProcess: Record<string, number | null>; total: number | null } {
  const byProcess = Object.fromEntries(Object.entries(cpu).map(([k, ms]) => [k, ms === null || successes === 0 ? null : round((ms / successes) * 1000, 0)]));
  const total = successes === 0 ? null : round((Object.entries(cpu).reduce((a, [k, ms]) => (k === BENCH_CLIENT ? a : a + (ms ?? 0)), 0) / successes) * 1000, 0);
  return { byProcess, total };
}

let enginePids: { postmaster?: number; ferretdb?: number; ferretdbDb: string; kafka?: number } | undefined;

/** The engines' pids, looked up once: they run for the whole bench. */
function engines(): NonNullable<typeof enginePids> {
  if (enginePids) return enginePids;
  const config = testConfig();
  const ferretdb = enginePid('ferretdb', portOf(config.mongodbUri, 27017));
  enginePids = {
    postmaster: enginePid('postgres', portOf(config.eventStore.postgresUrl, 5432)),
    ferretdb,
    ferretdbDb: ferretdbDatabase(ferretdb),
    kafka: enginePid('kafka', Number(config.kafka.brokers[0]?.split(':')[1] ?? 9092)),
  };
  log(`engine pids: ${JSON.stringify(enginePids)}`);
  return enginePids;
}

/** The engines' own processes, which every user of the machine loads: PostgreSQL's server processes (postmaster, WAL writer, checkpointer, ...), FerretDB and its PostgreSQL backends, the Kafka broker. */
function sharedEngineGroups(admin: Client): Record<string, () => Promise<number[]>> {
  const { postmaster, ferretdb, ferretdbDb, kafka } = engines();
  const pids = (p: number | undefined) => (p ? [p] : []);
  return {
    postgresServerShared: async () => [...pids(postmaster), ...(await admin.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname IS NULL`)).rows.map((r) => r.pid)],
    ferretdbShared: async () => pids(ferretdb),
    ferretdbPostgresBackendsShared: async () => (await admin.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = $1`, [ferretdbDb])).rows.map((r) => r.pid),
    kafkaBrokerShared: async () => pids(kafka),
  };
}

interface Measured<T> {
  result: T;
  /** Seconds from the end of the load until its effects were applied; null when not within APPLY_TIMEOUT_SECONDS. */
  appliedSeconds: number | null;
  cpuMsPer1000: Record<string, number | null>;
  totalCpuMsPer1000: number | null;
  pgActivity: ActivityReport;
  eventsInStore: number;
}

/** What a phase waits for before its CPU window closes: `count` events of `type` in the store (the identity service's reaction), then the projector at the head. */
type Effects = { type: string; count: number } | null;

interface Scenario {
  stack: Stack;
  app: TestApp;
  measure<T>(label: string, run: () => Promise<T>, successes: (r: T) => number, effects: (r: T) => Effects): Promise<Measured<T>>;
  /** Waits until `effects` are applied; seconds it took, null on timeout. */
  applied(effects: Effects): Promise<number | null>;
  /** CPU ms per second of each group with no load from the bench. */
  idle(): Promise<Record<string, number | null>>;
  /** Events of `type` in the stack's store. */
  count(type: string): Promise<number>;
}

/** A fresh stack (own database, topics, read models) for one scenario, so scenarios do not inherit each other's store size. */
async function withStack<T>(extraEnv: Record<string, string>, body: (s: Scenario) => Promise<T>): Promise<T> {
  const stack = await startStack(PARTS, extraEnv);
  const benchUrl = new URL(stack.env.POSTGRES_URL);
  benchUrl.searchParams.set('application_name', BENCH_APPLICATION);
  const pg = new Client({ connectionString: benchUrl.toString() });
  const pgSampler = new Client({ connectionString: benchUrl.toString() });
  let store: EventStore | undefined;
  const conn = mongoose.createConnection(stack.env.MONGODB_URI);
  try {
    await Promise.all([pg.connect(), pgSampler.connect()]);
    store = await createEventStore(testConfig({ POSTGRES_URL: benchUrl.toString() }), { poolSize: 1 });
    const reads = new ReadModels(conn, { pointerTtlMs: 0 });
    const app = await stack.createApp({ rateLimitPerSecond: 1_000_000 }, 'bench');
    const service = (part: StackPart) => () => [stack.procs.get(part)?.child.pid].filter((p): p is number => !!p);
    const meter = new CpuMeter({
      ...Object.fromEntries(PARTS.map((part) => [part, service(part)])),
      postgresBackends: async () =>
        (await pg.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name <> $1`, [BENCH_APPLICATION])).rows.map((r) => r.pid),
      ...sharedEngineGroups(pg),
      [BENCH_CLIENT]: () => [process.pid],
    });
    const count = async (type: string) => Number((await pg.query<{ n: string }>(`SELECT count(*) AS n FROM event_store.events WHERE type = $1`, [type])).rows[0].n);
    const applied = async (effects: Effects): Promise<number | null> => {
      const t0 = Date.now();
      const deadline = t0 + APPLY_TIMEOUT_SECONDS * 1000;
      const left = () => Math.max(0, deadline - Date.now());
      if (effects && effects.count > 0 && !(await until(stack, async () => (await count(effects.type)) >= effects.count, left()))) {
        log(`  not applied within ${APPLY_TIMEOUT_SECONDS} s: fewer than ${effects.count} ${effects.type}`);
        return null;
      }
      const head = await lastProjectedPosition(store!);
      if (!(await until(stack, async () => (await reads.position()) >= head, left()))) {
        log(`  not applied within ${APPLY_TIMEOUT_SECONDS} s: the projector is behind position ${head}`);
        return null;
      }
      return (Date.now() - t0) / 1000;
    };
    return await body({
      stack,
      app,
      applied,
      count,
      async idle() {
        await meter.start();
        await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
        const cpu = await meter.stop();
        return Object.fromEntries(Object.entries(cpu).map(([k, ms]) => [k, round(ms === null ? null : ms / IDLE_SECONDS, 0)]));
      },
      async measure(label, run, successes, effects) {
        await meter.start();
        await toggleProfiles(stack, PROFILE_DIR, log);
        const activity = samplePgActivity(pgSampler, statementKind);
        const result = await run();
        const appliedSeconds = await applied(effects(result));
        const cpu = await meter.stop();
        const pgActivity = await activity.stop();
        await toggleProfiles(stack, PROFILE_DIR, log, label, ['gateway', 'registration', 'identity']);
        assertAlive(stack);
        const { byProcess, total } = per1000(cpu, successes(result));
        log(`  ${label}: applied ${appliedSeconds === null ? 'NOT in time' : `${appliedSeconds.toFixed(1)} s after the last answer`}; postgres: ${pgActivity.averageActive} busy backends on average; statements ${JSON.stringify(pgActivity.byStatement)}; waits ${JSON.stringify(pgActivity.byWait)}`);
        return { result, appliedSeconds: round(appliedSeconds, 2), cpuMsPer1000: byProcess, totalCpuMsPer1000: total, pgActivity, eventsInStore: Number((await pg.query<{ n: string }>(`SELECT count(*) AS n FROM event_store.events`)).rows[0].n) };
      },
    });
  } finally {
    await Promise.all([pg.end(), pgSampler.end(), store?.close(), conn.close()]).catch(() => undefined);
    await stack.stop();
  }
}

/** The fields every HTTP phase reports. */
function phase(r: LoadResult) {
  return {
    requests: Object.values(r.statuses).reduce((a, b) => a + b, 0),
    succeeded: r.successes,
    statuses: r.statuses,
    firstError: r.firstError,
    seconds: round(r.seconds, 2),
    perSecond: round(r.successes / r.seconds, 0),
    perWindow: r.perWindow,
    latencyMs: latencySummary(r.latencies),
  };
}

async function serverVersion(url: string): Promise<string> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version;
  } finally {
    await c.end();
  }
}

const ratio = (a: number | null | undefined, b: number | null | undefined) => (typeof a === 'number' && typeof b === 'number' && b > 0 ? round(a / b, 2) : null);

/** Parse Server's installations at `concurrency`, a fresh Parse with its own database, CPU per process like ours. */
async function parsePhase(concurrency: number) {
  const parse = await startParseServer(testConfig().eventStore.postgresUrl);
  const admin = new Client({ connectionString: testConfig().eventStore.postgresUrl, application_name: BENCH_APPLICATION });
  try {
    await admin.connect();
    const { postgresServerShared } = sharedEngineGroups(admin);
    const meter = new CpuMeter({
      parseServer: () => (parse.pid ? [parse.pid] : []),
      postgresBackends: async () => (await admin.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name <> $2`, [parse.dbName, BENCH_APPLICATION])).rows.map((r) => r.pid),
      postgresServerShared,
      [BENCH_CLIENT]: () => [process.pid],
    });
    if (WARMUP > 0) {
      const w = await parseInstallations(parse, { concurrency: Math.min(32, concurrency), requests: WARMUP, label: 'warmup' });
      if (!w.successes) throw new Error(`POST /parse/installations: ${w.firstError}`);
    }
    await meter.start();
    const r = await parseInstallations(parse, { concurrency, requests: REQUESTS, maxSeconds: MAX_SECONDS, label: `c${concurrency}` });
    const { byProcess, total } = per1000(await meter.stop(), r.successes);
    const p = phase(r);
    return {
      versions: parse.versions,
      result: {
        route: 'POST /parse/installations (application id + client key, like our write key; a new Android installation per request)',
        concurrency,
        requests: p.requests,
        created: p.succeeded,
        statuses: p.statuses,
        firstError: p.firstError,
        seconds: p.seconds,
        registrationsPerSecond: p.perSecond,
        perWindow: p.perWindow,
        latencyMs: p.latencyMs,
        cpuMsPer1000Registrations: byProcess,
        totalCpuMsPer1000Registrations: total,
      },
    };
  } finally {
    await admin.end().catch(() => undefined);
    await parse.stop();
  }
}

async function main(): Promise<void> {
  const extraEnv: Record<string, string> = { LOG_LEVEL: 'warn' };
  Object.assign(extraEnv, profilingEnv(PROFILE_DIR));
  log(
    `ingest bench: ${REQUESTS} registrations, identifies and logouts at concurrency ${CONCURRENCY.join(', ')} (max ${MAX_SECONDS} s each)${PARSE ? ', Parse Server installations after each' : ''}, ` +
      `${INGEST} Kafka messages, a fresh stack each${PROFILE_DIR ? `, profiling into ${PROFILE_DIR}` : ''}`,
  );

  // Set inside the stacks' callbacks (a plain `let` would stay narrowed to null here).
  const peer: { versions: Record<string, string> | null } = { versions: null };
  const httpRuns: Record<string, unknown>[] = [];
  for (const concurrency of CONCURRENCY) {
    httpRuns.push(
      await withStack(extraEnv, async ({ stack, app, measure, applied, idle, count }) => {
        const label = `c${concurrency}`;
        if (WARMUP > 0) {
          // Every path the measured phases take, on devices of their own; applied before the idle window.
          const w = await registrations(stack, app, 'warmup', Math.min(32, concurrency), WARMUP, 60);
          const wi = await identifies(stack, app, w.deviceIds, Math.min(32, concurrency), 60);
          await applied({ type: 'UserDeviceLinked', count: wi.successes });
          const wl = await logouts(stack, app, wi.deviceIds, Math.min(32, concurrency), 60);
          await applied({ type: 'UserDeviceUnlinked', count: wl.successes });
          log(`warm-up: register ${JSON.stringify(w.statuses)}, identify ${JSON.stringify(wi.statuses)}, logout ${JSON.stringify(wl.statuses)} in ${(w.seconds + wi.seconds + wl.seconds).toFixed(1)} s`);
        }
        const idleCpuMsPerSecond = await idle();

        const reg = await measure(`${label}-register`, () => registrations(stack, app, label, concurrency, REQUESTS, MAX_SECONDS), (r) => r.successes, () => null);
        const p = phase(reg.result);
        log(
          `POST /v1/devices x${concurrency}: ${p.succeeded}/${p.requests} created in ${p.seconds} s = ${p.perSecond}/s (per ${WINDOW_SECONDS} s: ${p.perWindow.join(' ')})  ` +
            `p50 ${p.latencyMs.p50} ms p99 ${p.latencyMs.p99} ms  cpu ms/1k ${JSON.stringify(reg.cpuMsPer1000)} total ${reg.totalCpuMsPer1000}`,
        );

        let parse: Awaited<ReturnType<typeof parsePhase>>['result'] | null = null;
        if (PARSE) {
          const pp = await parsePhase(concurrency);
          parse = pp.result;
          peer.versions = pp.versions;
          log(`POST /parse/installations x${concurrency}: ${parse.created}/${parse.requests} created in ${parse.seconds} s = ${parse.registrationsPerSecond}/s  p50 ${parse.latencyMs.p50} ms p99 ${parse.latencyMs.p99} ms  cpu ms/1k ${JSON.stringify(parse.cpuMsPer1000Registrations)} total ${parse.totalCpuMsPer1000Registrations}`);
        }

        // The identity service's reactions are counted in the whole store: the warm-up's are already in.
        const linkedAtStart = await count('UserDeviceLinked');
        const idf = await measure(`${label}-identify`, () => identifies(stack, app, reg.result.deviceIds, concurrency, MAX_SECONDS), (r) => r.successes, (r) => ({ type: 'UserDeviceLinked', count: linkedAtStart + r.successes }));
        const unlinkedAtStart = await count('UserDeviceUnlinked');
        const out = await measure(`${label}-logout`, () => logouts(stack, app, idf.result.deviceIds, concurrency, MAX_SECONDS), (r) => r.successes, (r) => ({ type: 'UserDeviceUnlinked', count: unlinkedAtStart + r.successes }));
        const lifecycle = (route: string, m: Measured<LoadResult>) => ({
          route,
          ...phase(m.result),
          appliedSeconds: m.appliedSeconds,
          cpuMsPer1000: m.cpuMsPer1000,
          totalCpuMsPer1000: m.totalCpuMsPer1000,
          eventsInStoreAtEnd: m.eventsInStore,
          pgActivity: m.pgActivity,
        });
        const identify = lifecycle('POST /v1/identify { userId, deviceId } (a new user per device of the registration phase)', idf);
        const logout = lifecycle('POST /v1/logout { deviceId } (the identified devices)', out);
        for (const [name, x] of [['identify', identify], ['logout', logout]] as const) {
          log(`POST /v1/${name} x${concurrency}: ${x.succeeded}/${x.requests} in ${x.seconds} s = ${x.perSecond}/s  p50 ${x.latencyMs.p50} ms p99 ${x.latencyMs.p99} ms  cpu ms/1k ${JSON.stringify(x.cpuMsPer1000)} total ${x.totalCpuMsPer1000}`);
        }
        return {
          concurrency,
          requests: p.requests,
          created: p.succeeded,
          statuses: p.statuses,
          firstError: p.firstError,
          seconds: p.seconds,
          registrationsPerSecond: p.perSecond,
          perWindow: p.perWindow,
          latencyMs: p.latencyMs,
          appliedSeconds: reg.appliedSeconds,
          cpuMsPer1000Registrations: reg.cpuMsPer1000,
          totalCpuMsPer1000Registrations: reg.totalCpuMsPer1000,
          eventsInStoreAtEnd: reg.eventsInStore,
          pgActivity: reg.pgActivity,
          parse,
          ratio: parse
            ? {
                registrationsPerSecond: ratio(p.perSecond, parse.registrationsPerSecond),
                latencyP50: ratio(p.latencyMs.p50, parse.latencyMs.p50),
                latencyP99: ratio(p.latencyMs.p99, parse.latencyMs.p99),
                totalCpuMsPer1000Registrations: ratio(reg.totalCpuMsPer1000, parse.totalCpuMsPer1000Registrations),
              }
            : null,
          identify,
          logout,
          idleCpuMsPerSecond,
        };
      }),
    );
  }

  let ingest: Record<string, unknown> | null = null;
  if (INGEST > 0) {
    ingest = await withStack(extraEnv, async ({ stack, app, measure }) => {
      const m = await measure(
        'kafka-ingest',
        () => kafkaIngest(stack, app, INGEST, APPLY_TIMEOUT_SECONDS),
        () => INGEST,
        (r) => ({ type: 'UserDeviceLinked', count: r.signedIn }),
      );
      const r = m.result;
      const result = {
        messages: INGEST,
        completed: r.done,
        publishSeconds: round(r.publishSeconds, 2),
        seconds: round(r.seconds, 2),
        messagesPerSecond: r.done ? round(INGEST / r.seconds, 0) : null,
        projectedSeconds: m.appliedSeconds === null ? null : round(r.seconds + m.appliedSeconds, 2),
        cpuMsPer1000Messages: m.cpuMsPer1000,
        totalCpuMsPer1000Messages: m.totalCpuMsPer1000,
        eventsInStoreAtEnd: m.eventsInStore,
        pgActivity: m.pgActivity,
      };
      log(`Kafka ingest: ${INGEST} register push ${r.done ? `stored in ${result.seconds} s = ${result.messagesPerSecond}/s` : 'NOT all stored in time'}, in the read models after ${result.projectedSeconds ?? '–'} s  cpu ms/1k ${JSON.stringify(result.cpuMsPer1000Messages)} total ${result.totalCpuMsPer1000Messages}`);
      return result;
    });
  }

  if (PROFILE_DIR) {
    log('profiled run: results not written');
    return;
  }
  const config = testConfig();
  const postgresVersion = peer.versions?.postgres ?? (await serverVersion(config.eventStore.postgresUrl));
  const file = writeResults('ingest', {
    method: {
      stack: PARTS,
      freshStackPerScenario: true,
      http: 'node:http keep-alive agent with one socket per client, each client sending its next request when the previous one is answered; latency of successes only (201 for registrations, 200 for identify and logout); perWindow = successes per second in consecutive windows',
      phases:
        'per concurrency, on a fresh stack: warm-up (registrations, identifies and logouts of warm-up devices, applied), 3 s idle (idleCpuMsPerSecond), POST /v1/devices, then Parse Server POST /parse/installations at the same concurrency (fresh Parse, own database), then POST /v1/identify on the devices of the registration phase (a new user each), then POST /v1/logout on the identified devices',
      applied:
        'each phase\'s CPU window closes when its effects are applied: identity\'s UserDeviceLinked / UserDeviceUnlinked in the store (identify, logout, signed-in Kafka messages), and the projector at the store head; appliedSeconds = that wait after the last answer',
      requestsPerRun: REQUESTS,
      maxSecondsPerRun: MAX_SECONDS,
      warmupRequests: WARMUP,
      kafka: 'Intilery register push messages (1/3 signed in), published in batches of 500, timed until the ingest consumer group has committed the last offset (the facts are stored); projectedSeconds = until the read models have them',
      cpu: `utime+stime from /proc per 1,000 successes; postgresBackends = the backends of the stack's (or Parse's) database, the bench's own connections left out; *Shared = processes other users of the machine also load (indicative only): postgresServerShared = postmaster and PostgreSQL's background processes, ferretdbShared = FerretDB, ferretdbPostgresBackendsShared = the backends of FerretDB's database, kafkaBrokerShared = the broker's JVM; total = every group but ${BENCH_CLIENT} (the load generator)`,
      pgActivity: 'pg_stat_activity of the stack database sampled every 20 ms: share of busy backends by statement kind and by wait event (cpu = running)',
    },
    engines: {
      pushledger: `event store on PostgreSQL ${postgresVersion} (${new URL(config.eventStore.postgresUrl).host}, a database per stack); read models on FerretDB (${new URL(config.mongodbUri).host}, database ${engines().ferretdbDb} of the same PostgreSQL server); Kafka ${config.kafka.brokers.join(',')}`,
      parse: PARSE ? `Parse Server ${peer.versions?.parseServer ?? '?'} (one Node process, bench/parse/server.js) with its PostgreSQL adapter on the same PostgreSQL ${postgresVersion} server (a database per concurrency); no Kafka, no read models` : null,
    },
    parseVersions: peer.versions,
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
