/**
 * Read models at scale: bulk-load devices and users (2 devices per user) straight into a generation,
 * then time segment previews (count + sample), a full targeting stream, point reads, the live projector
 * path, and a rebuild from the event store. Results: bench/results/segments.json.
 *
 *   node -r ./libs/event-store/src/testing/ts-register.js bench/segments/main.ts [--devices 100000] [--partitions 32] [--rebuild-events 200000] [--projector-events 20000]
 *
 * Works in throwaway databases on the configured servers (MONGODB_URI, POSTGRES_URL), dropped at the end.
 * Every FerretDB 1.x query is a scan evaluated in Go, so times grow linearly with the documents of the
 * app; the 1,000,000-device figures are extrapolated from the measured scale (say so when quoting them).
 */
import { loadConfig } from '@pushledger/config';
import type { DevicePolicy, DeviceStatus, JsonObject, LastStatus, Platform } from '@pushledger/contracts';
import { deviceStream, tokenHash, userStream } from '@pushledger/contracts';
import { decideDevice, evolveDevice, type DeviceState } from '@pushledger/domain';
import { PostgresEventStore, type NewEvent, type StoredEvent } from '@pushledger/event-store';
import {
  dbOf,
  deviceDocOf,
  emptyUserDoc,
  Generations,
  positionText,
  Layout,
  Projection,
  PROJECTED_STREAM_PREFIXES,
  ReadModels,
  rebuildReadModels,
  runLimited,
  segmentFilter,
  summaryOf,
  upsertDevice,
  validateRules,
  withUserState,
  type DeviceDoc,
  type SegmentRule,
  type UserDoc,
} from '@pushledger/read-models';
import { randomBytes, randomUUID } from 'node:crypto';
import mongoose from 'mongoose';
import { Client } from 'pg';
import { machineInfo } from '../lib/machine';
import { writeResults } from '../lib/results';
import { latencySummary, round } from '../lib/stats';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const DEVICES = arg('devices', 100_000);
const PARTITIONS = arg('partitions', 32);
const REBUILD_EVENTS = arg('rebuild-events', 200_000);
const PROJECTOR_EVENTS = arg('projector-events', 20_000);
const TARGET_DEVICES = 1_000_000;
const ESTIMATE_BUDGET_MS = loadConfig().segments.estimateBudgetMs;
const APP = 'app_bench';
const NOW = new Date();
const DAY = 86_400_000;

let seed = 12345;
const rnd = (n: number): number => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed % n;
};
const pick = <T>(list: readonly T[]): T => list[rnd(list.length)];
const log = (message: string, fields: Record<string, unknown> = {}) => process.stderr.write(`${JSON.stringify({ t: new Date().toISOString().slice(11, 19), message, ...fields })}\n`);
const timed = async <T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> => {
  const t = performance.now();
  const value = await f();
  return { ms: performance.now() - t, value };
};

/** A plausible device of user `u` (index `i`): mostly Android and iOS, versions spread, a quarter stale. */
function syntheticDevice(i: number, userId: string): DeviceState {
  const r = rnd(100);
  const platform: Platform = r < 55 ? 'android' : r < 95 ? 'ios' : 'web';
  const seen = new Date(NOW.getTime() - rnd(120 * 24) * 3_600_000);
  const registered = new Date(seen.getTime() - rnd(400) * DAY);
  const status: DeviceStatus = rnd(100) < 3 ? 'invalid' : seen.getTime() < NOW.getTime() - 60 * DAY && rnd(2) ? 'stale' : 'active';
  const ls = rnd(100);
  const lastStatus: LastStatus = ls < 40 ? 'unused' : ls < 93 ? 'sent' : ls < 98 ? 'bounced' : 'suppressed';
  const pe = rnd(10);
  const token = `${randomBytes(11).toString('base64url')}:APA91b${randomBytes(100).toString('base64url')}`;
  return {
    appId: APP,
    deviceId: `dev_${i}`,
    userId,
    platform,
    provider: platform === 'ios' ? 'apns' : 'fcm',
    token,
    tokenClaim: 1,
    status,
    lastStatus,
    consecutiveBounces: lastStatus === 'bounced' ? 1 : lastStatus === 'suppressed' ? 2 : 0,
    pushEnabled: pe < 7 ? true : pe < 8 ? false : null,
    attributes: {
      model: platform === 'ios' ? pick(['iPhone14,5', 'iPhone15,2', 'iPhone16,1']) : platform === 'android' ? pick(['Pixel 7', 'Pixel 8', 'SM-S918B', 'moto g84']) : null,
      osVersion: platform === 'ios' ? `${15 + rnd(3)}.${rnd(6)}` : platform === 'android' ? `${10 + rnd(5)}` : null,
      appVersion: `${1 + rnd(3)}.${rnd(13)}.${rnd(6)}`,
      locale: pick(['en-GB', 'en-US', 'es-ES', 'es-MX', 'fr-FR', 'de-DE', 'pt-BR', 'it-IT']),
      timezone: pick(['Europe/London', 'Europe/Madrid', 'Europe/Paris', 'America/Mexico_City', 'America/Sao_Paulo', 'America/New_York']),
    },
    registeredAt: registered.toISOString(),
    tokenRegisteredAt: registered.toISOString(),
    lastSeenAt: seen.toISOString(),
    recentMessageIds: [],
    invalidatedTokens: [],
    revision: 3 + rnd(20),
  };
}

function syntheticTraits(): JsonObject {
  const p = rnd(100);
  const tags = ['vip', 'beta', 'news', 'sports', 'deals'].filter(() => rnd(4) === 0);
  return {
    plan: p < 60 ? 'free' : p < 90 ? 'pro' : 'team',
    age: 18 + rnd(63),
    country: pick(['ES', 'FR', 'DE', 'GB', 'US', 'MX', 'BR', 'IT', 'PT', 'NL']),
    signedUpAt: new Date(NOW.getTime() - rnd(1500) * DAY).toISOString(),
    tags,
  };
}

/** Writes users (each with its two device summaries) and devices, in bulk, partition by partition. */
async function load(layout: Layout): Promise<{ ms: number; devices: number; users: number }> {
  const t = performance.now();
  const users = DEVICES / 2;
  const chunk = 1000;
  let written = 0;
  for (let start = 0; start < users; start += chunk) {
    const deviceDocs: DeviceDoc[] = [];
    const userDocs: UserDoc[] = [];
    for (let u = start; u < Math.min(users, start + chunk); u++) {
      const userId = `user_${u}`;
      let doc: UserDoc = withUserState(emptyUserDoc(APP, userId), {
        appId: APP,
        userId,
        devices: {},
        deviceRevisions: {},
        traits: syntheticTraits(),
        unsubscribed: rnd(100) < 8,
        topics: {},
        erased: false,
        revision: 2 + rnd(5),
      });
      for (const i of [2 * u, 2 * u + 1]) {
        const s = syntheticDevice(i, userId);
        deviceDocs.push(deviceDocOf(s, positionText(BigInt(i + 1)), positionText(BigInt(i + 1))));
        doc = upsertDevice(doc, summaryOf(s));
      }
      userDocs.push({ ...doc, v: randomBytes(8).toString('hex') });
    }
    const byColl = new Map<string, { coll: ReturnType<Layout['devicesFor']> | ReturnType<Layout['usersFor']>; docs: (DeviceDoc | UserDoc)[] }>();
    for (const d of deviceDocs) {
      const c = layout.devicesFor(d._id);
      (byColl.get(c.collectionName) ?? byColl.set(c.collectionName, { coll: c, docs: [] }).get(c.collectionName)!).docs.push(d);
    }
    for (const d of userDocs) {
      const c = layout.usersFor(d._id);
      (byColl.get(c.collectionName) ?? byColl.set(c.collectionName, { coll: c, docs: [] }).get(c.collectionName)!).docs.push(d);
    }
    await runLimited(
      [...byColl.values()].map(({ coll, docs }) => () => (coll as unknown as mongoose.mongo.Collection).insertMany(docs as unknown as mongoose.mongo.OptionalId<mongoose.mongo.Document>[], { ordered: false })),
      4,
    );
    written += deviceDocs.length + userDocs.length;
    if ((start / chunk) % 10 === 0) log('loading', { documents: written, docsPerSecond: Math.round(written / ((performance.now() - t) / 1000)) });
  }
  return { ms: performance.now() - t, devices: DEVICES, users };
}

const SEGMENTS: { name: string; rules: unknown }[] = [
  { name: 'pro plan (one trait)', rules: { trait: 'plan', op: 'eq', value: 'pro' } },
  { name: 'iOS on app < 2.5.0 (upgrade nudge)', rules: { all: [{ device: 'platform', op: 'eq', value: 'ios' }, { device: 'appVersion', op: 'semver_lt', value: '2.5.0' }] } },
  { name: 'reachable and active this week', rules: { all: [{ eligibleDevice: true }, { device: 'lastSeenAt', op: 'within_days', value: 7 }] } },
  { name: 'paying adults in ES/FR/DE (nested traits)', rules: { all: [{ trait: 'country', op: 'in', value: ['ES', 'FR', 'DE'] }, { trait: 'age', op: 'gte', value: 25 }, { not: { trait: 'plan', op: 'eq', value: 'free' } }] } },
  {
    name: 'win-back: reachable, not seen for 30 days, VIP or Spanish locale',
    rules: { all: [{ eligibleDevice: true }, { not: { device: 'lastSeenAt', op: 'within_days', value: 30 } }, { any: [{ trait: 'tags', op: 'contains', value: 'vip' }, { device: 'locale', op: 'contains', value: 'es-' }] }] },
  },
];

/** Device and user streams as the domain writes them, appended in per-stream batches (two rounds, interleaved across streams). */
async function fillStore(store: PostgresEventStore, events: number): Promise<{ ms: number; events: number }> {
  const t = performance.now();
  const devices = Math.ceil(events / 10);
  const states = new Map<string, DeviceState>();
  let written = 0;
  const append = async (stream: string, list: { type: string; data: unknown }[], expected: bigint | 'no_stream') => {
    const batch: NewEvent[] = list.map((e) => ({ eventId: randomUUID(), type: e.type, data: e.data, metadata: { appId: APP, correlationId: randomUUID(), causationId: randomUUID(), occurredAt: (e.data as { at: string }).at, schemaVersion: 1 } }));
    await store.appendToStream(stream, batch, { expectedRevision: expected });
    written += batch.length;
  };
  const at = (days: number) => new Date(NOW.getTime() - days * DAY);
  // Round 1: register, attributes, identify (device), link + traits (user).
  await runLimited(
    Array.from({ length: devices }, (_, i) => async () => {
      const id = `rb_${i}`;
      const userId = `rbu_${i >> 1}`;
      let s: DeviceState | null = null;
      const events: { type: string; data: unknown }[] = [];
      const step = (cmd: Parameters<typeof decideDevice>[0], now: Date) => {
        for (const e of decideDevice(cmd, s, now)) {
          events.push(e);
          s = evolveDevice(s, e);
        }
      };
      step({ type: 'RegisterToken', appId: APP, deviceId: id, token: `tok_${i}_${randomBytes(40).toString('hex')}`, provider: 'fcm', platform: i % 3 ? 'android' : 'ios', claim: 1, attributes: { appVersion: `2.${i % 10}.0`, locale: 'es-ES' }, pushEnabled: true }, at(30));
      step({ type: 'UpdateDeviceAttributes', appId: APP, deviceId: id, attributes: { osVersion: '14', model: 'Pixel 8' } }, at(29));
      step({ type: 'Identify', appId: APP, deviceId: id, userId }, at(28));
      await append(deviceStream(APP, id), events, 'no_stream');
      states.set(id, s!);
      if (i % 2 === 0) {
        const u = { appId: APP, at: at(28).toISOString() };
        await append(
          userStream(APP, userId),
          [
            { type: 'UserDeviceLinked', data: { ...u, deviceId: id, deviceRevision: 3, lastSeenAt: u.at, pii: { userId } } },
            { type: 'UserTraitsUpdated', data: { ...u, pii: { userId, traits: { plan: i % 3 ? 'free' : 'pro', age: 20 + (i % 50) } } } },
          ],
          'no_stream',
        );
      }
    }),
    8,
  );
  // Round 2: seen, sent, bounced until the target count.
  let k = 0;
  while (written < events) {
    const jobs = Array.from({ length: Math.min(devices, Math.ceil((events - written) / 3)) }, (_, i) => async () => {
      const id = `rb_${i}`;
      let s: DeviceState | null = states.get(id)!;
      const list: { type: string; data: unknown }[] = [];
      const step = (cmd: Parameters<typeof decideDevice>[0], now: Date) => {
        for (const e of decideDevice(cmd, s, now)) {
          list.push(e);
          s = evolveDevice(s, e);
        }
      };
      step({ type: 'MarkSeen', appId: APP, deviceId: id }, at(20 - k));
      step({ type: 'RecordPushSent', appId: APP, deviceId: id, tokenHash: tokenHash(s!.token!), messageId: `m_${k}_${i}` }, at(20 - k));
      step({ type: 'RecordPushBounced', appId: APP, deviceId: id, tokenHash: tokenHash(s!.token!), messageId: `b_${k}_${i}`, reason: 'UNAVAILABLE' }, at(20 - k));
      if (list.length) await append(deviceStream(APP, id), list, BigInt(s!.revision - list.length - 1));
      states.set(id, s!);
    });
    await runLimited(jobs, 8);
    k++;
    log('filling the store', { events: written });
  }
  return { ms: performance.now() - t, events: written };
}

async function main(): Promise<void> {
  const loadAtStart = machineInfo().loadAverage;
  const config = loadConfig();
  const mongoUrl = new URL(config.mongodbUri);
  const dbName = `rm_bench_${randomBytes(3).toString('hex')}`;
  mongoUrl.pathname = `/${dbName}`;
  const connection = await mongoose.createConnection(mongoUrl.toString(), { serverSelectionTimeoutMS: 15000, maxPoolSize: 16 }).asPromise();
  const db = await dbOf(connection);
  const pgName = `rm_bench_${randomBytes(3).toString('hex')}`;
  const admin = new Client({ connectionString: config.eventStore.postgresUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${pgName}`);
  const pgUrl = new URL(config.eventStore.postgresUrl);
  pgUrl.pathname = `/${pgName}`;
  const store = await PostgresEventStore.connect({ connectionString: pgUrl.toString(), poolSize: 10 });

  try {
    const buildInfo = await db.admin().command({ buildInfo: 1 });
    const pgVersion = (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version;
    const engine = {
      readModels: 'ferretdbVersion' in buildInfo ? `FerretDB 1.24.2 (embedded, deploy/local/ferretdb) on PostgreSQL ${pgVersion}` : `MongoDB ${buildInfo.version}`,
      wireVersionReported: buildInfo.version,
      eventStore: `PostgreSQL ${pgVersion}`,
    };
    log('start', { devices: DEVICES, partitions: PARTITIONS, engine });

    // ------------------------------------------------------------------ load
    const gens = new Generations(db);
    const gen = await gens.create(PARTITIONS);
    await gens.activate(gen);
    const layout = new Layout(db, gen);
    const loaded = await load(layout);
    log('loaded', { ms: Math.round(loaded.ms) });

    // ------------------------------------------------------------------ point reads
    const reader = new ReadModels(db);
    const pointMs: number[] = [];
    for (let i = 0; i < 50; i++) {
      const id = rnd(DEVICES);
      const { ms, value } = await timed(() => reader.device(APP, `dev_${id}`));
      if (!value) throw new Error(`dev_${id} missing`);
      pointMs.push(ms);
    }
    const userPointMs: number[] = [];
    for (let i = 0; i < 50; i++) userPointMs.push((await timed(() => reader.userDevices(APP, `user_${rnd(DEVICES / 2)}`))).ms);

    // ------------------------------------------------------------------ previews
    const ctx = { now: NOW, staleAfterDays: 60 };
    const previews = [];
    for (const s of SEGMENTS) {
      const rules = validateRules(s.rules) as SegmentRule;
      const { ms, value } = await timed(() => reader.preview(APP, rules, ctx, 20));
      // The console's live count: the same rules estimated within the default budget (SEGMENT_ESTIMATE_BUDGET_MS).
      const quick = await timed(() => reader.preview(APP, rules, ctx, 20, { budgetMs: ESTIMATE_BUDGET_MS }));
      const explain = await db.command({ explain: { count: layout.userCollectionName(0), query: segmentFilter(APP, rules, ctx) }, verbosity: 'queryPlanner' });
      const plan = (explain.queryPlanner as { Plan?: Record<string, unknown> } | undefined)?.Plan;
      previews.push({
        segment: s.name,
        rules: s.rules,
        count: value.count,
        sample: value.sample.length,
        ms: round(ms, 0),
        usersScannedPerSecond: round((DEVICES / 2 / ms) * 1000, 0),
        estimated: {
          budgetMs: ESTIMATE_BUDGET_MS,
          ms: round(quick.ms, 0),
          count: quick.value.count,
          margin: quick.value.estimate?.margin ?? 0,
          partitionsCounted: quick.value.estimate?.partitionsCounted ?? PARTITIONS,
          errorPercent: value.count ? round(((quick.value.count - value.count) / value.count) * 100, 1) : 0,
          withinMargin: Math.abs(quick.value.count - value.count) <= (quick.value.estimate?.margin ?? 0),
        },
        explain: { filterPushdown: explain.filterPushdown ?? null, node: plan?.['Node Type'] ?? null, pgFilter: plan?.Filter ?? null },
      });
      log('preview', { segment: s.name, count: value.count, ms: Math.round(ms) });
    }

    // ------------------------------------------------------------------ full targeting stream
    const targetOptions = { transactional: false, devicePolicy: 'last_active' as DevicePolicy, appPolicy: 'all' as DevicePolicy, staleAfterDays: 60, now: NOW };
    const targeting = await timed(async () => {
      const stream = await reader.targets(APP, { kind: 'everyone' }, targetOptions);
      let pairs = 0;
      let heapMaxMb = 0;
      for await (const _pair of stream) {
        if (++pairs % 10_000 === 0) heapMaxMb = Math.max(heapMaxMb, process.memoryUsage().heapUsed / 2 ** 20);
      }
      return { pairs, stats: stream.stats, heapMaxMb };
    });
    log('targeting', { pairs: targeting.value.pairs, ms: Math.round(targeting.ms) });

    // ------------------------------------------------------------------ event store → read models
    const filled = await fillStore(store, REBUILD_EVENTS);
    log('store filled', { events: filled.events, ms: Math.round(filled.ms) });

    // The live path (reads each document first, compare-and-set writes) on the loaded collections.
    const live = new Projection(layout, store, { cacheSize: 0 });
    const liveEvents: StoredEvent[] = [];
    for await (const e of store.readAll({ filter: { streamPrefixes: PROJECTED_STREAM_PREFIXES }, maxCount: PROJECTOR_EVENTS })) liveEvents.push(e);
    const projector = await timed(async () => {
      for (let i = 0; i < liveEvents.length; i += 2000) {
        await live.apply(liveEvents.slice(i, i + 2000));
        await live.flush();
      }
    });
    log('projector (live path)', { events: liveEvents.length, ms: Math.round(projector.ms) });

    const rebuild = await rebuildReadModels(store, db, { activate: false, partitions: PARTITIONS, onProgress: (p) => log('rebuild', { events: p.events }) });
    log('rebuild', { events: rebuild.events, ms: rebuild.elapsedMs });

    const scale = TARGET_DEVICES / DEVICES;
    const results = {
      engine,
      loadAverageAtStart: loadAtStart,
      scale: { devices: DEVICES, users: DEVICES / 2, partitions: PARTITIONS, app: 'one app holds every document' },
      load: { ms: round(loaded.ms, 0), docsPerSecond: round(((DEVICES * 1.5) / loaded.ms) * 1000, 0), method: 'insertMany of whole documents, 4 collections in flight' },
      pointReads: { deviceByIdMs: latencySummary(pointMs), userDevicesMs: latencySummary(userPointMs), note: `a findOne by _id scans one partition (~${Math.round(DEVICES / PARTITIONS)} devices) in PostgreSQL` },
      previews,
      targeting: {
        audience: 'everyone, marketing, policy last_active',
        ms: round(targeting.ms, 0),
        pairs: targeting.value.pairs,
        usersPerSecond: round((DEVICES / 2 / targeting.ms) * 1000, 0),
        skipped: targeting.value.stats.skipped,
        heapMaxMb: round(targeting.value.heapMaxMb, 0),
      },
      projectorLivePath: { events: liveEvents.length, ms: round(projector.ms, 0), eventsPerSecond: round((liveEvents.length / projector.ms) * 1000, 0), stats: live.stats, note: 'Projection with no cache over the loaded collections: every document read by _id and written with compare-and-set' },
      rebuild: { events: rebuild.events, ms: rebuild.elapsedMs, eventsPerSecond: rebuild.eventsPerSecond, documents: rebuild.documents, storeFill: { events: filled.events, ms: round(filled.ms, 0) } },
      extrapolatedTo1M: {
        method: `linear ×${scale}: FerretDB 1.x scans for every filter but _id, so time ∝ documents of the app; reads by _id use the index deploy/local adds (ferretdb-id-index.sql) and are not extrapolated`,
        previewSeconds: previews.map((p) => ({ segment: p.segment, seconds: round(((p.ms ?? 0) * scale) / 1000, 0) })),
        targetingSeconds: round((targeting.ms * scale) / 1000, 0),
        loadSeconds: round((loaded.ms * scale) / 1000, 0),
      },
      loadAverageAtEnd: machineInfo().loadAverage,
    };
    const nameAt = process.argv.indexOf('--name');
    const file = writeResults(nameAt >= 0 ? process.argv[nameAt + 1] : 'segments', results);
    log('written', { file });
  } finally {
    await store.close().catch(() => undefined);
    await connection.dropDatabase().catch(() => undefined);
    await connection.close().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${pgName} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
