import { readFileSync } from 'fs';
import type { Consumer, Kafka, Producer } from 'kafkajs';
import { groupFor, topicsFor, TopicMap } from '@pushledger/contracts';
import { createEventStore, EventStore } from '@pushledger/event-store';
import { createProducer } from '@pushledger/kafka';
import { api, startStack, Stack, TestApp, testKafka, uniqueName, waitFor } from '@pushledger/testing';

/**
 * An upstream system (Intilery) publishes Segment messages straight to the ingest topic: 10,000 of
 * them, mostly `register push`, some identifies, 1% malformed, some published twice. Every valid one
 * must be applied exactly once and in order per device, every malformed one must be dead-lettered with
 * its reason, and the registration service must live through it. The stack trusts the `app-id` header
 * (INGEST_TRUST_APP_ID_HEADER=true), so some messages name their app that way; without the flag such
 * messages are dead-lettered (test/kafka-security).
 */

const TOTAL = 10_000;
const MALFORMED = TOTAL / 100;

/** Deterministic, so a failure can be replayed. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Outgoing {
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

/** What one device's script should leave in its stream, in order. */
interface DeviceExpectation {
  deviceId: string;
  types: string[];
  userId: string | null;
  traitsUser?: string;
}

type BadKind = 'invalid_json' | 'unknown_key' | 'write_key_required' | 'app_id_mismatch' | 'validation_failed';

interface Workload {
  messages: Outgoing[];
  devices: DeviceExpectation[];
  bad: Map<string, BadKind>;
  /** Kafka key of each malformed message, by test id. */
  badKeys: Map<string, string>;
  valid: number;
  duplicates: number;
  counts: Record<string, number>;
}

function buildWorkload(app: TestApp, seed = 20240601): Workload {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rnd() * 16).toString(16)).join('');
  const scripts: Outgoing[][] = [];
  const devices: DeviceExpectation[] = [];
  const counts: Record<string, number> = { TokenRegistered: 0, TokenRefreshed: 0, Identified: 0, LoggedOut: 0 };
  let valid = 0;
  let duplicates = 0;
  const json = (key: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Outgoing => ({ key, value: Buffer.from(JSON.stringify(body)), headers });
  const viaWriteKey = (body: Record<string, unknown>) => ({ ...body, writeKey: app.writeKey });

  for (let i = 0; valid + duplicates < TOTAL - MALFORMED; i++) {
    // The last few devices send one registration each, so the total comes out exact.
    const simple = TOTAL - MALFORMED - (valid + duplicates) < 8;
    const deviceId = `fcm-${i}-${hex(12)}`;
    const deviceType = pick(['iOS', 'Android', 'Web', 'ios', 'android'] as const);
    const signedIn = !simple && rnd() < 0.3 ? `user-${i}` : null;
    const script: Outgoing[] = [];
    const types: string[] = ['TokenRegistered'];
    let owner: string | null = signedIn;
    let traitsUser: string | undefined;
    // A few upstream systems name the app in a header instead of the body (trusted in this stack).
    const byHeader = rnd() < 0.05;
    const send = (body: Record<string, unknown>) => {
      const out = byHeader ? json(deviceId, body, { 'app-id': app.id }) : json(deviceId, viaWriteKey(body));
      script.push(out);
      valid++;
      return out;
    };
    const duplicate = (m: Outgoing) => {
      script.push(m);
      duplicates++;
    };
    const register = (messageId: string, token: string) =>
      send({ type: 'track', event: 'register push', userId: signedIn ?? deviceId, messageId, properties: { deviceId, fcmToken: token, deviceType } });

    const first = register(`reg-${i}`, `fcm:${i}:A:${hex(40)}`);
    if (signedIn) types.push('Identified');
    if (!simple && rnd() < 0.02) duplicate(first); // redelivered at once
    if (!simple && rnd() < 0.15) {
      register(`ref-${i}`, `fcm:${i}:B:${hex(40)}`);
      types.push('TokenRefreshed');
      // A late copy of the first registration would put token A back if it were applied again.
      if (rnd() < 0.2) duplicate(first);
    }
    if (!simple && !signedIn && rnd() < 0.25) {
      const user = `user-${i}`;
      const identify = send({ type: 'identify', userId: user, anonymousId: deviceId, messageId: `idf-${i}`, traits: { plan: pick(['gold', 'free']), n: i } });
      types.push('Identified');
      owner = user;
      traitsUser = user;
      if (rnd() < 0.1) {
        // Moves to another user; a late copy of the first identify would move it back.
        const other = `user-${i}-b`;
        send({ type: 'identify', userId: other, anonymousId: deviceId, messageId: `idf2-${i}` });
        types.push('LoggedOut', 'Identified');
        owner = other;
        duplicate(identify);
      }
    }
    for (const t of types) counts[t]++;
    scripts.push(script);
    devices.push({ deviceId, types, userId: owner, traitsUser });
  }

  // Malformed: some keyed by a live device (they must not hold up its later messages), some by junk keys.
  const bad = new Map<string, BadKind>();
  const badKeys = new Map<string, string>();
  const register = (deviceId: string, properties: unknown, extra: Record<string, unknown> = {}) => ({
    type: 'track',
    event: 'register push',
    userId: deviceId,
    messageId: `bad-msg-${bad.size}`,
    properties,
    writeKey: app.writeKey,
    ...extra,
  });
  const kinds: { kind: BadKind; make: (deviceId: string) => Buffer; headers?: Record<string, string> }[] = [
    { kind: 'invalid_json', make: () => Buffer.from('{"type":"track","event":"register push",') },
    { kind: 'invalid_json', make: () => Buffer.from([0xff, 0xfe, 0x00, 0x7b]) },
    { kind: 'validation_failed', make: (d) => Buffer.from(JSON.stringify(register(d, { deviceId: d, deviceType: 'Android' }))) },
    { kind: 'unknown_key', make: (d) => Buffer.from(JSON.stringify(register(d, { deviceId: d, fcmToken: `x-${hex(20)}`, deviceType: 'iOS' }, { writeKey: `wk_unknown_${bad.size % 3}` }))) },
    { kind: 'write_key_required', make: (d) => Buffer.from(JSON.stringify(register(d, { deviceId: d, fcmToken: `x-${hex(20)}`, deviceType: 'iOS' }, { writeKey: undefined }))) },
    // Trusted or not, a header may not contradict the write key.
    { kind: 'app_id_mismatch', make: (d) => Buffer.from(JSON.stringify(register(d, { deviceId: d, fcmToken: `x-${hex(20)}`, deviceType: 'iOS' }))), headers: { 'app-id': 'app_someone_else' } },
    { kind: 'validation_failed', make: (d) => Buffer.from(JSON.stringify(register(d, { deviceId: d, fcmToken: `x-${hex(20)}`, deviceType: 'Windows' }))) },
    { kind: 'validation_failed', make: (d) => Buffer.from(JSON.stringify(register(d, 'deviceId=1&fcmToken=2'))) },
    { kind: 'validation_failed', make: (d) => Buffer.from(JSON.stringify(register(d, [d, 'token', 'iOS']))) },
    { kind: 'validation_failed', make: (d) => Buffer.from(JSON.stringify(register(d, { deviceId: d, fcmToken: `x-${hex(20)}`, deviceType: 'iOS' }, { userId: undefined }))) },
    { kind: 'validation_failed', make: (d) => Buffer.from(JSON.stringify({ type: 'identify', anonymousId: d, traits: { a: 1 }, writeKey: app.writeKey })) },
    { kind: 'validation_failed', make: (d) => Buffer.from(JSON.stringify(register(d, { deviceId: { id: d }, fcmToken: `x-${hex(20)}`, deviceType: 'Web' }))) },
    // Not an object: no writeKey can be read from it.
    { kind: 'write_key_required', make: () => Buffer.from('[1,2,3]') },
  ];
  for (let n = 0; n < MALFORMED; n++) {
    const testId = `bad-${n}`;
    const { kind, make, headers } = kinds[n % kinds.length];
    const onDevice = n % 2 === 0 ? scripts[Math.floor(rnd() * scripts.length)] : null;
    const deviceId = onDevice ? onDevice[0].key : `junk-${n}`;
    const msg: Outgoing = { key: deviceId, value: make(deviceId), headers: { ...headers, 'test-id': testId } };
    bad.set(testId, kind);
    badKeys.set(testId, deviceId);
    if (onDevice) onDevice.splice(1 + Math.floor(rnd() * onDevice.length), 0, msg);
    else scripts.push([msg]);
  }

  // Random interleaving across devices, each device's own order kept.
  const slots = scripts.flatMap((script, s) => {
    const keys = script.map(() => rnd()).sort((a, b) => a - b);
    return script.map((m, k) => ({ at: keys[k], s, m }));
  });
  slots.sort((a, b) => a.at - b.at);
  return { messages: slots.map((x) => x.m), devices, bad, badKeys, valid, duplicates, counts };
}

/** A service's SERVICE_PORT, read from its process environment (the harness does not expose it). */
function servicePort(pid: number): number {
  const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  const line = env.find((l) => l.startsWith('SERVICE_PORT='));
  if (!line) throw new Error(`no SERVICE_PORT in the environment of ${pid}`);
  return Number(line.slice('SERVICE_PORT='.length));
}

async function countByType(store: EventStore, types: string[], prefix: string): Promise<Record<string, number>> {
  const out: Record<string, number> = Object.fromEntries(types.map((t) => [t, 0]));
  for await (const e of store.readAll({ filter: { eventTypes: types, streamPrefixes: [prefix] } })) out[e.type]++;
  return out;
}

describe('Kafka ingest: Segment messages from an upstream system', () => {
  let stack: Stack;
  let app: TestApp;
  let topics: TopicMap;
  let kafka: Kafka;
  let producer: Producer;
  let dlqConsumer: Consumer;
  let store: EventStore;
  const dead = new Map<string, { reason: string; key: string | null }>();
  const strayDead: string[] = [];

  beforeAll(async () => {
    // No projector: this suite measures ingest throughput, and without read models the gateway's reads fold the store.
    stack = await startStack(['gateway', 'registration', 'identity', 'relay'], { INGEST_TRUST_APP_ID_HEADER: 'true' });
    app = await stack.createApp({}, 'intilery');
    topics = topicsFor(stack.suffix);
    kafka = testKafka();
    producer = createProducer(kafka);
    await producer.connect();
    store = await createEventStore({ eventStore: { kind: 'postgres', postgresUrl: stack.env.POSTGRES_URL } }, { poolSize: 2 });
    dlqConsumer = kafka.consumer({ groupId: uniqueName('dlq-reader'), maxWaitTimeInMs: 200 });
    await dlqConsumer.connect();
    await dlqConsumer.subscribe({ topic: topics.ingestDlq, fromBeginning: true });
    await dlqConsumer.run({
      eachMessage: async ({ message }) => {
        const testId = message.headers?.['test-id']?.toString();
        const reason = message.headers?.['dlq-reason']?.toString() ?? '';
        if (testId) dead.set(testId, { reason, key: message.key?.toString() ?? null });
        else strayDead.push(`${message.key?.toString()}: ${reason} ${message.headers?.['dlq-detail']?.toString()}`);
      },
    });
  });

  afterAll(async () => {
    if (process.env.DEBUG_STACK) console.log(stack?.logs());
    await dlqConsumer?.disconnect().catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    await store?.close().catch(() => undefined);
    await stack?.stop();
  });

  it('applies every valid message exactly once, dead-letters every malformed one, and keeps running', async () => {
    const work = buildWorkload(app);
    expect(work.messages.length).toBe(TOTAL);
    expect(work.bad.size).toBe(MALFORMED);

    const admin = kafka.admin();
    await admin.connect();
    try {
      // The registration service created its topics on start; publishing must not auto-create them.
      await waitFor(async () => (await admin.listTopics()).includes(topics.ingest), { what: 'the ingest topic', timeoutMs: 30000 });

      const started = Date.now();
      for (let i = 0; i < work.messages.length; i += 500) {
        await producer.send({ topic: topics.ingest, acks: -1, messages: work.messages.slice(i, i + 500) });
      }
      const published = Date.now();

      const groupId = groupFor('pushledger-registration-ingest', stack.suffix);
      const ends = new Map((await admin.fetchTopicOffsets(topics.ingest)).map((p) => [p.partition, p.high]));
      expect([...ends.values()].reduce((a, b) => a + Number(b), 0)).toBeGreaterThanOrEqual(TOTAL);
      // Done = the ingest consumer has committed past every message (offsets only move after the effect).
      await waitFor(
        async () => {
          const [committed] = await admin.fetchOffsets({ groupId, topics: [topics.ingest] });
          return committed.partitions.every((p) => p.offset === ends.get(p.partition));
        },
        { what: 'the ingest consumer to commit every message', timeoutMs: 240_000, intervalMs: 500 },
      );
      const done = Date.now();
      const seconds = (done - started) / 1000;
      process.stdout.write(
        `ingest: ${TOTAL} messages (${work.valid} valid, ${work.duplicates} duplicates, ${MALFORMED} malformed) on ${work.devices.length} devices: ` +
          `published in ${((published - started) / 1000).toFixed(1)} s, all applied after ${seconds.toFixed(1)} s = ${Math.round(TOTAL / seconds)} messages/s\n`,
      );
    } finally {
      await admin.disconnect();
    }

    // Exactly once: the totals over the whole store match the scripts, so nothing was lost or applied twice.
    const types = ['TokenRegistered', 'TokenRefreshed', 'Identified', 'LoggedOut'];
    expect(await countByType(store, ['TokenRegistered'], 'device-')).toEqual({ TokenRegistered: work.devices.length });
    expect(await countByType(store, types, `device-${app.id}-`)).toEqual(work.counts);

    // A sample of devices through the API: the facts in script order, the last owner.
    const server = api(stack.url, app.serverKey);
    const rnd = prng(7);
    const interesting = work.devices.filter((d) => d.types.length > 2);
    const sample = [...interesting.slice(0, 15), ...Array.from({ length: 15 }, () => work.devices[Math.floor(rnd() * work.devices.length)])];
    for (const d of sample) {
      const history = await server.get(`/v1/devices/${encodeURIComponent(d.deviceId)}/events`);
      expect(history.status).toBe(200);
      expect({ device: d.deviceId, types: history.body.map((e: { type: string }) => e.type).filter((t: string) => types.includes(t)) }).toEqual({ device: d.deviceId, types: d.types });
      const view = await server.get(`/v1/devices/${encodeURIComponent(d.deviceId)}`);
      expect(view.body).toMatchObject({ id: d.deviceId, appId: app.id, userId: d.userId, status: 'active' });
    }

    // Every malformed message, and only those, in the DLQ with its reason.
    await waitFor(async () => dead.size >= MALFORMED || strayDead.length > 0, { what: 'the malformed messages in the DLQ', timeoutMs: 30000 });
    expect(strayDead).toEqual([]);
    const reasons = Object.fromEntries([...work.bad.keys()].map((id) => [id, dead.get(id)?.reason]));
    expect(reasons).toEqual(Object.fromEntries(work.bad));
    const keys = Object.fromEntries([...work.bad.keys()].map((id) => [id, dead.get(id)?.key]));
    expect(keys).toEqual(Object.fromEntries(work.badKeys));

    // Traits of identifies went on to the identity service.
    const withTraits = work.devices.filter((d) => d.traitsUser).slice(0, 3);
    await waitFor(
      async () => {
        for (const d of withTraits) {
          const user = await server.get(`/v1/users/${d.traitsUser}`);
          if (user.status !== 200 || typeof user.body.traits?.plan !== 'string') return false;
        }
        return true;
      },
      { what: 'traits to reach the users', timeoutMs: 30000 },
    );

    // The registration service never crashed.
    const registration = stack.procs.get('registration')!;
    expect(registration.child.exitCode).toBeNull();
    expect(registration.child.signalCode).toBeNull();
    const health = await fetch(`http://127.0.0.1:${servicePort(registration.child.pid!)}/health`);
    expect(health.status).toBe(200);
    expect(registration.logs()).not.toMatch(/uncaught|unhandled/i);
  }, 330_000);

  it('applies a message for an app created a moment before it was published', async () => {
    const fresh = await stack.createApp({}, 'just-created');
    const deviceId = `fresh-${Date.now()}`;
    await producer.send({
      topic: topics.ingest,
      acks: -1,
      messages: [
        {
          key: deviceId,
          value: JSON.stringify({ type: 'track', event: 'register push', userId: deviceId, messageId: 'fresh-1', properties: { deviceId, fcmToken: `fcm:fresh:${deviceId}`, deviceType: 'Android' }, writeKey: fresh.writeKey }),
          headers: { 'test-id': 'fresh-1' },
        },
      ],
    });
    const server = api(stack.url, fresh.serverKey);
    const device = await waitFor(
      async () => {
        if (dead.has('fresh-1')) throw new Error(`dead-lettered: ${dead.get('fresh-1')!.reason}`);
        const res = await server.get(`/v1/devices/${deviceId}`);
        return res.status === 200 && res.body;
      },
      { what: 'the device of the new app', timeoutMs: 30000 },
    );
    expect(device).toMatchObject({ id: deviceId, appId: fresh.id, platform: 'android', userId: null });
    expect(dead.has('fresh-1')).toBe(false);
  });
});
