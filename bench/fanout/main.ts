/**
 * Broadcast fan-out: a marketing broadcast to every user of an app, through the gateway, the campaign
 * service (targeting over the read models), Kafka delivery requests, the delivery service (firebase-admin
 * sendEach) and the FCM simulator, at 0 ms and 40 ms simulated FCM latency.
 *
 *   bash bench/fanout/run.sh [--devices 100000,1000000] [--latencies 0,40] [--max-seconds 900]
 *
 * Devices are seeded straight into the read models (a user document with two device summaries, and the
 * two device documents), as bench/segments does: a broadcast reads nothing else, so seeding stays out of
 * the measurement. Sizes are cumulative (the app grows to the next size). Per run: time until the
 * simulator has received the last push, pushes/s, time until the targeting finished and until the
 * delivery ledger holds every pair as done, and CPU per 1,000 pushes of the campaign and delivery
 * processes. Results: bench/results/fanout.json. Needs a build and the local engines.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import mongoose from 'mongoose';
import { Client } from 'pg';
import type { DeviceState } from '@pushledger/domain';
import { FcmSimulator } from '@pushledger/fcm';
import { dbOf, deviceDocOf, emptyUserDoc, Generations, Layout, positionText, runLimited, summaryOf, upsertDevice, withUserState, type DeviceDoc, type UserDoc } from '@pushledger/read-models';
import { api, repoRoot, startStack, type StackPart } from '@pushledger/testing';
import { machineInfo } from '../lib/machine';
import { CpuMeter } from '../lib/process-cpu';
import { readResults, writeResults } from '../lib/results';
import { profilingEnv, toggleProfiles } from '../lib/profiles';
import { round } from '../lib/stats';

const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const SIZES = (arg('devices') ?? '100000').split(',').map(Number).filter((n) => n > 0).sort((a, b) => a - b);
const LATENCIES = (arg('latencies') ?? '0,40').split(',').map(Number);
const MAX_SECONDS = Number(arg('max-seconds') ?? 900);
const PARTITIONS = Number(arg('partitions') ?? 32);
const PARTS: StackPart[] = ['gateway', 'campaign', 'delivery'];
const PROFILE_DIR = arg('profile') ? path.resolve(arg('profile')!) : undefined;
const FCM_QUOTA_PER_MINUTE = 60_000_000;

const log = (message: string, fields: Record<string, unknown> = {}) => process.stderr.write(`${JSON.stringify({ t: new Date().toISOString().slice(11, 19), message, ...fields })}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function device(appId: string, i: number, userId: string, now: Date): DeviceState {
  const at = new Date(now.getTime() - (i % 1000) * 60_000).toISOString();
  return {
    appId,
    deviceId: `dev_${i}`,
    userId,
    platform: i % 2 ? 'ios' : 'android',
    provider: 'fcm',
    token: `ok:fan${i}-${randomBytes(60).toString('base64url')}`,
    tokenClaim: 1,
    status: 'active',
    lastStatus: 'unused',
    consecutiveBounces: 0,
    pushEnabled: true,
    attributes: { model: null, osVersion: null, appVersion: '2.1.0', locale: 'en-GB', timezone: 'Europe/London' },
    registeredAt: at,
    tokenRegisteredAt: at,
    lastSeenAt: at,
    recentMessageIds: [],
    invalidatedTokens: [],
    revision: 1,
  };
}

/** Users `from/2 .. to/2` with two devices each, in bulk (insertMany, 4 collections in flight). */
async function seed(layout: Layout, appId: string, from: number, to: number): Promise<number> {
  const t = performance.now();
  const now = new Date();
  for (let u0 = from / 2; u0 < to / 2; u0 += 1000) {
    const byColl = new Map<string, { coll: unknown; docs: (DeviceDoc | UserDoc)[] }>();
    const add = (coll: { collectionName: string }, doc: DeviceDoc | UserDoc) => (byColl.get(coll.collectionName) ?? byColl.set(coll.collectionName, { coll, docs: [] }).get(coll.collectionName)!).docs.push(doc);
    for (let u = u0; u < Math.min(to / 2, u0 + 1000); u++) {
      const userId = `user_${u}`;
      let doc = withUserState(emptyUserDoc(appId, userId), { appId, userId, devices: {}, deviceRevisions: {}, traits: {}, unsubscribed: false, topics: {}, erased: false, revision: 1 });
      for (const i of [2 * u, 2 * u + 1]) {
        const s = device(appId, i, userId, now);
        const d = deviceDocOf(s, positionText(BigInt(i + 1)), positionText(BigInt(i + 1)));
        add(layout.devicesFor(d._id), d);
        doc = upsertDevice(doc, summaryOf(s));
      }
      add(layout.usersFor(doc._id), { ...doc, v: randomBytes(8).toString('hex') });
    }
    await runLimited(
      [...byColl.values()].map(({ coll, docs }) => () => (coll as mongoose.mongo.Collection).insertMany(docs as unknown as mongoose.mongo.OptionalId<mongoose.mongo.Document>[], { ordered: false })),
      4,
    );
    if ((u0 / 1000) % 20 === 0) log('seeding', { devices: 2 * u0, devicesPerSecond: Math.round(((2 * u0 - from) / (performance.now() - t)) * 1000) });
  }
  return performance.now() - t;
}

async function main(): Promise<void> {
  const loadAtStart = machineInfo().loadAverage;
  const sim = await FcmSimulator.start({ certDir: path.join(repoRoot, '.data/fcm-sim-bench'), maxRecords: Math.max(...SIZES) + 10_000 });
  const stack = await startStack(PARTS, { FCM_ENDPOINT: sim.url, FCM_CA_FILE: sim.caFile, ...profilingEnv(PROFILE_DIR) });
  const pg = new Client({ connectionString: stack.env.POSTGRES_URL });
  const conn = await mongoose.createConnection(stack.env.MONGODB_URI, { maxPoolSize: 8 }).asPromise();
  const runs: Record<string, unknown>[] = [];
  const seeding: Record<string, unknown>[] = [];
  try {
    await pg.connect();
    const app = await stack.createApp({ rateLimitPerSecond: 1_000_000, fcmQuotaPerMinute: FCM_QUOTA_PER_MINUTE }, 'fanout');
    const server = api(stack.url, app.serverKey);
    const db = await dbOf(conn);
    const gens = new Generations(db);
    const gen = await gens.create(PARTITIONS);
    await gens.activate(gen);
    const layout = new Layout(db, gen);
    const pidOf = (part: StackPart) => () => [stack.procs.get(part)?.child.pid].filter((p): p is number => !!p);
    const meter = new CpuMeter({ campaign: pidOf('campaign'), delivery: pidOf('delivery'), gateway: pidOf('gateway'), benchAndSimulator: () => [process.pid] });

    let seeded = 0;
    for (const size of SIZES) {
      const ms = await seed(layout, app.id, seeded, size);
      seeding.push({ from: seeded, to: size, seconds: round(ms / 1000, 1), devicesPerSecond: round(((size - seeded) / ms) * 1000, 0) });
      log('seeded', { devices: size, seconds: Math.round(ms / 1000) });
      seeded = size;
      for (const latencyMs of LATENCIES) {
        sim.reset();
        sim.configure({ latencyMs, quota: null });
        // A 503 (the campaign service did not answer in time, e.g. while it starts) means "retry with the same Idempotency-Key".
        const create = () => server.post('/v1/campaigns', { name: `fanout-${size}-${latencyMs}`, kind: 'broadcast', content: { title: 'Big news', body: 'Something for everyone' } }, { 'idempotency-key': `fanout-${size}-${latencyMs}-${app.id}` });
        let c = await create();
        for (let attempt = 0; c.status === 503 && attempt < 40; attempt++) c = await create();
        if (c.status !== 201) throw new Error(`create campaign: ${c.status} ${JSON.stringify(c.body)}`);
        await meter.start();
        await toggleProfiles(stack, PROFILE_DIR, (line) => log(line));
        const t0 = Date.now();
        let sendAnswer: { status: number; body: unknown; ms: number } | undefined;
        void server.post(`/v1/campaigns/${c.body.id}/send`, {}).then((r) => (sendAnswer = { status: r.status, body: r.body, ms: Date.now() - t0 }), (err: Error) => (sendAnswer = { status: 0, body: err.message, ms: Date.now() - t0 }));
        let messageId: string | undefined;
        let targetingDoneMs: number | undefined;
        let lastSendMs: number | undefined;
        let allDoneMs: number | undefined;
        let lastLog = 0;
        let lastPoll = 0;
        while (allDoneMs === undefined && Date.now() - t0 < MAX_SECONDS * 1000) {
          await sleep(200);
          const received = sim.requests().length;
          if (lastSendMs === undefined && received >= size) lastSendMs = sim.requests()[size - 1].time - t0;
          if (targetingDoneMs === undefined && Date.now() - lastPoll >= 1000) {
            lastPoll = Date.now();
            // The send's record itself: GET /v1/campaigns/{id} also counts the outcomes, a scan of up to 1,000,000
            // documents on FerretDB, which would load the machine the broadcast runs on.
            const s = await conn.collection<{ messageId: string; status: string }>('campaign_sends').findOne({ appId: app.id, campaignId: c.body.id });
            messageId ??= s?.messageId ?? (sendAnswer?.body as { messageId?: string } | undefined)?.messageId;
            if (s?.status === 'sent') targetingDoneMs = Date.now() - t0;
          }
          if (messageId && lastSendMs !== undefined) {
            const { rows } = await pg.query<{ n: number }>("SELECT count(*)::int AS n FROM delivery.pairs WHERE message_id = $1 AND state = 'done'", [messageId]);
            if (rows[0].n >= size) allDoneMs = Date.now() - t0;
          }
          if (Date.now() - lastLog > 10_000) {
            lastLog = Date.now();
            log('sending', { size, latencyMs, received, seconds: Math.round((Date.now() - t0) / 1000) });
          }
        }
        const cpu = await meter.stop();
        await toggleProfiles(stack, PROFILE_DIR, (line) => log(line), `fanout-${size}-${latencyMs}ms`, ['campaign', 'delivery', 'gateway']);
        for (let i = 0; i < 100 && !sendAnswer; i++) await sleep(200);
        const received = sim.requests();
        const distinct = new Set(received.map((r) => r.token)).size;
        const firstSendMs = received.length ? received[0].time - t0 : null;
        const per1000 = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, round(v === null ? null : (v / Math.max(1, received.length)) * 1000, 0)]));
        const run = {
          measuredAt: new Date().toISOString(),
          devices: size,
          latencyMs,
          completed: lastSendMs !== undefined && allDoneMs !== undefined,
          pushesReceived: received.length,
          distinctTokens: distinct,
          statuses: received.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.status]: (acc[r.status] ?? 0) + 1 }), {}),
          timeToFirstSendSeconds: round(firstSendMs === null ? null : firstSendMs / 1000, 2),
          timeToLastSendSeconds: round(lastSendMs === undefined ? null : lastSendMs / 1000, 2),
          pushesPerSecond: lastSendMs === undefined ? null : round((size / lastSendMs) * 1000, 0),
          pushesPerSecondAfterFirstSend: lastSendMs === undefined || firstSendMs === null ? null : round((size / (lastSendMs - firstSendMs)) * 1000, 0),
          targetingDoneSeconds: round(targetingDoneMs === undefined ? null : targetingDoneMs / 1000, 2),
          allOutcomesRecordedSeconds: round(allDoneMs === undefined ? null : allDoneMs / 1000, 2),
          sendAnswer: sendAnswer ? { status: sendAnswer.status, seconds: round(sendAnswer.ms / 1000, 2), body: sendAnswer.status === 202 ? sendAnswer.body : String(JSON.stringify(sendAnswer.body)).slice(0, 200) } : null,
          cpuMs: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, round(v, 0)])),
          cpuMsPer1000Pushes: per1000,
        };
        runs.push(run);
        if (!run.completed) log('incomplete run: service output', { logs: stack.logs().slice(-6000) });
        log('run', run);
      }
    }
    // Runs of other sizes (a 1,000,000-device run takes half an hour, so it is run on its own) are kept.
    const name = arg('name') ?? 'fanout';
    const previous = readResults(name);
    const cell = (r: Record<string, unknown>) => `${r.devices}@${r.latencyMs}`;
    const fresh = new Set(runs.map(cell));
    const kept = ((previous?.runs ?? []) as Record<string, unknown>[]).filter((r) => !fresh.has(cell(r))).map((r): Record<string, unknown> => ({ measuredAt: previous?.generatedAt, ...r }));
    const keptSeeding = ((previous?.seeding ?? []) as Record<string, unknown>[]).filter((x) => !seeding.some((y) => y.to === x.to));
    writeResults(name, {
      loadAverage: { atStart: loadAtStart, atEnd: machineInfo().loadAverage },
      method: {
        path: 'POST /v1/campaigns/{id}/send (broadcast, audience everyone, marketing) -> campaign service streams the read models into delivery requests of 500 -> Kafka -> delivery service (8 partitions in flight, firebase-admin 13 sendEach over HTTP/2) -> FCM simulator (TLS, in the bench process)',
        stack: PARTS,
        seeding: 'straight into the read models (one generation, ' + PARTITIONS + ' partitions): users with 2 active devices each, user and device documents; the event store holds none of them, so the registration commands the delivery service emits (RecordPushSent) are left unconsumed on Kafka (no registration service in this stack)',
        timing: 'from the send request; last send = time the simulator received the N-th push; all outcomes = every (message, device) pair done in the delivery ledger',
        appSettings: { fcmQuotaPerMinute: FCM_QUOTA_PER_MINUTE, note: 'the app quota is lifted so the machine, not the token bucket, sets the pace (default 600,000/min = 10,000/s)' },
        cpu: 'utime+stime from /proc per 1,000 pushes received by the simulator; benchAndSimulator = this process, which hosts the simulator',
      },
      seeding: [...keptSeeding, ...seeding],
      runs: [...kept, ...runs].sort((a, b) => Number(a.devices) - Number(b.devices) || Number(a.latencyMs) - Number(b.latencyMs)),
    });
  } finally {
    await pg.end().catch(() => undefined);
    await conn.close().catch(() => undefined);
    await stack.stop().catch(() => undefined);
    await sim.stop().catch(() => undefined);
  }
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
