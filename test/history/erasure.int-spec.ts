import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Client } from 'pg';
import mongoose from 'mongoose';
import { FcmSimulator } from '@pushledger/fcm';
import { dbOf, Layout } from '@pushledger/read-models';
import { api, repoRoot, Stack, startProcess, TestApp, testKafka, uniqueName, waitFor } from '@pushledger/testing';
import { copiesOf } from './every-copy';
import { startPrivateStack, type PrivateStack } from './private-stack';
import { runReplayCli } from './replay-cli';

/** Everything that identifies erin; none of it may be readable anywhere after the erasure. */
const ERIN = 'erin-7Q2xkV';
const ERIN_EMAIL = 'erin.q2xk@example.com';
const ERIN_SECRET_TRAIT = 'blue-whale-7731';
const TOKEN_A = `erin-token-a-${Date.now()}-APA91bQ2xkAAAAAAAAAAAAAAAA`;
const TOKEN_B = `erin-token-b-${Date.now()}-APA91bQ2xkBBBBBBBBBBBBBBBB`;
const FRANK = 'frank-3Zp9';
const FRANK_EMAIL = 'frank.z9@example.com';
const TOKEN_C = `frank-token-c-${Date.now()}-APA91bZp9CCCCCCCCCCCCCCC`;
const ERIN_SECRETS = [ERIN, ERIN_EMAIL, ERIN_SECRET_TRAIT, TOKEN_A, TOKEN_B];

type Offsets = Map<number, bigint>;

describe('erasure: crypto-shredding through a running stack', () => {
  let env: PrivateStack;
  let stack: Stack;
  let app: TestApp;
  let dir: string;
  let sim: FcmSimulator;
  beforeAll(async () => {
    sim = await FcmSimulator.start({ certDir: path.join(repoRoot, '.data/fcm-sim-test') });
    // Every service and tool, logging at info: the scan at the end reads all they wrote.
    env = await startPrivateStack(['gateway', 'registration', 'identity', 'relay', 'projector', 'campaign', 'delivery'], { FCM_ENDPOINT: sim.url, FCM_CA_FILE: sim.caFile, LOG_LEVEL: 'info' });
    stack = env.stack;
    app = await stack.createApp();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-'));
  });
  afterAll(async () => {
    if (process.env.DEBUG_STACK) console.log(stack?.logs());
    await env?.stop();
    await sim?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const endOffsets = async (): Promise<Offsets> => {
    const admin = testKafka().admin();
    await admin.connect();
    try {
      return new Map((await admin.fetchTopicOffsets(env.lifecycleTopic)).map((p) => [p.partition, BigInt(p.high)]));
    } finally {
      await admin.disconnect();
    }
  };

  /** Raw bytes (key, value, headers) of every lifecycle message at or after `from`, up to `to`. */
  async function lifecycleBytes(from: Offsets, to: Offsets): Promise<{ count: number; bytes: string }> {
    const wanted = [...to].reduce((n, [p, high]) => n + Number(high - (from.get(p) ?? 0n)), 0);
    const consumer = testKafka().consumer({ groupId: uniqueName('erasure-check') });
    const chunks: Buffer[] = [];
    let count = 0;
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: env.lifecycleTopic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          if (BigInt(message.offset) < (from.get(partition) ?? 0n) || BigInt(message.offset) >= (to.get(partition) ?? 0n)) return;
          count++;
          chunks.push(message.key ?? Buffer.alloc(0), message.value ?? Buffer.alloc(0));
          for (const [k, v] of Object.entries(message.headers ?? {})) chunks.push(Buffer.from(k), Buffer.isBuffer(v) ? v : Buffer.from(String(v)));
        },
      });
      await waitFor(async () => count >= wanted, { timeoutMs: 60000, what: 'the lifecycle messages' });
    } finally {
      await consumer.disconnect();
    }
    return { count, bytes: Buffer.concat(chunks).toString('latin1') };
  }

  const leaks = (text: string, secrets: string[]) => secrets.filter((s) => text.includes(s));

  it('after DELETE no trait, user id or token of the user is readable anywhere; device facts stay countable', async () => {
    const write = api(stack.url, app.writeKey);
    const server = api(stack.url, app.serverKey);
    const reg = (deviceId: string, token: string, userId: string) => write.post('/v1/devices', { deviceId, token, provider: 'fcm', platform: 'android', appVersion: '3.1.0', userId });
    expect((await reg('erin-phone', TOKEN_A, ERIN)).status).toBe(201);
    expect((await reg('erin-tablet', TOKEN_B, ERIN)).status).toBe(201);
    expect((await reg('frank-phone', TOKEN_C, FRANK)).status).toBe(201);
    expect((await server.patch(`/v1/users/${ERIN}`, { traits: { email: ERIN_EMAIL, favourite: ERIN_SECRET_TRAIT } }, { 'idempotency-key': `traits-${ERIN}` })).status).toBe(200);
    expect((await server.patch(`/v1/users/${FRANK}`, { traits: { email: FRANK_EMAIL } })).status).toBe(200);
    await waitFor(async () => (await server.get(`/v1/users/${ERIN}/devices`)).body?.length === 2 && (await server.get(`/v1/users/${FRANK}/devices`)).body?.length === 1, { what: 'membership', timeoutMs: 60000 });

    // A push personalised with her trait, delivered: the delivery ledger, its requests and outcomes have her devices.
    const campaign = await server.post('/v1/campaigns', { name: 'favourite', kind: 'broadcast', content: { title: 'Hi {{user.traits.favourite}}', body: 'b' } });
    expect(campaign.status).toBe(201);
    const send = await server.post(`/v1/campaigns/${campaign.body.id}/send`, {});
    expect(send.status).toBe(202);
    await waitFor(async () => [TOKEN_A, TOKEN_B, TOKEN_C].every((t) => sim.requestsFor(t).length > 0), { what: 'the broadcast at FCM', timeoutMs: 60000 });
    expect(JSON.stringify(sim.requestsFor(TOKEN_A))).toContain(ERIN_SECRET_TRAIT);
    // And a push to frank, whose copies stay.
    expect((await server.post('/v1/push', { to: { userId: FRANK }, notification: { title: 'For frank', body: 'b' } })).status).toBe(202);
    await waitFor(async () => sim.requestsFor(TOKEN_C).length === 2, { what: "frank's push at FCM" });

    // Before: the export has everything, decrypted (tokens masked as everywhere in the API).
    const before = await server.get(`/v1/users/${ERIN}/export`);
    expect(before.status).toBe(200);
    expect(JSON.stringify(before.body)).toContain(ERIN_SECRET_TRAIT);
    expect(before.body.devices.map((d: { id: string }) => d.id)).toEqual(['erin-phone', 'erin-tablet']);
    const beforeErasure = new Date().toISOString();
    // Nothing in the store is readable without the keys, even now.
    const raw = await rawStore(stack.env.POSTGRES_URL);
    expect(leaks(raw, [...ERIN_SECRETS, FRANK, FRANK_EMAIL, TOKEN_C])).toEqual([]);

    await waitFor(() => env.relayCaughtUp(), { what: 'the relay before the erasure' });

    const erased = await server.delete(`/v1/users/${ERIN}`);
    expect(erased.status).toBe(200);
    await waitFor(async () => {
      const events = await Promise.all(['erin-phone', 'erin-tablet'].map((d) => server.get(`/v1/devices/${d}/events`)));
      return events.every((e) => e.body.some((x: { type: string }) => x.type === 'DeviceAnonymised'));
    }, { what: 'devices anonymised' });
    await waitFor(() => env.relayCaughtUp(), { what: 'the relay after the erasure' });

    // 1. A replay of the whole history (NDJSON, decrypting where keys remain).
    const file = path.join(dir, 'history.ndjson');
    const replay = await runReplayCli(['--app', app.id, '--out', file], { POSTGRES_URL: stack.env.POSTGRES_URL });
    expect(replay.code).toBe(0);
    const history = fs.readFileSync(file, 'utf8');
    expect(leaks(history, ERIN_SECRETS)).toEqual([]);
    expect(leaks(history, [FRANK, FRANK_EMAIL, TOKEN_C])).toEqual([FRANK, FRANK_EMAIL, TOKEN_C]);
    expect(history).toContain('"UserErased"');

    // 2. The folded views, now and as of before the erasure; the id stays suppressed.
    expect((await server.get(`/v1/users/${ERIN}`)).body).toMatchObject({ id: ERIN, erased: true, traits: {}, deviceIds: [] });
    const past = await server.get(`/v1/users/${ERIN}?asOf=${encodeURIComponent(beforeErasure)}`);
    expect(past.body).toMatchObject({ erased: false, traits: {} });
    for (const d of ['erin-phone', 'erin-tablet']) {
      expect((await server.get(`/v1/devices/${d}`)).body).toMatchObject({ id: d, userId: null, token: null, platform: 'android', appVersion: '3.1.0' });
      expect((await server.get(`/v1/devices/${d}?asOf=${encodeURIComponent(beforeErasure)}`)).body).toMatchObject({ userId: null, token: null });
    }
    expect((await server.get('/v1/devices/frank-phone')).body).toMatchObject({ userId: FRANK, token: expect.any(String) });
    expect((await reg('erin-phone', TOKEN_A, ERIN)).status).toBe(409);

    // 3. The export.
    const after = await server.get(`/v1/users/${ERIN}/export`);
    expect(after.status).toBe(200);
    expect(leaks(JSON.stringify(after.body).replaceAll(ERIN, ''), ERIN_SECRETS)).toEqual([]);

    // 4. The lifecycle topic, from its start (raw bytes): facts as stored, so no whole token of anyone either.
    const topic = await lifecycleBytes(new Map(), await endOffsets());
    expect(topic.count).toBeGreaterThan(0);
    expect(leaks(topic.bytes, [...ERIN_SECRETS, TOKEN_C, FRANK, FRANK_EMAIL])).toEqual([]);
    expect(topic.bytes).toContain('frank-phone');

    // 5. Device facts remain countable.
    const stats = await server.get('/v1/stats/devices');
    expect(stats.body).toMatchObject({ total: 3, byPlatform: { android: 3 }, byAppVersion: { '3.1.0': 3 } });
    const today = new Date().toISOString().slice(0, 10);
    expect((await server.get(`/v1/stats/devices/daily?from=${today}&to=${today}`)).body.totals).toMatchObject({ registered: 3 });

    // 6. Read models rebuilt from the whole history (`npm run projections:rebuild`), every document as raw BSON.
    const rebuild = startProcess('rebuild', 'tools/rebuild/main.js', { POSTGRES_URL: stack.env.POSTGRES_URL, MONGODB_URI: stack.env.MONGODB_URI }, ['--partitions', '2', '--no-activate', '--keep-previous']);
    let rebuildOut = '';
    rebuild.child.stdout!.on('data', (b: Buffer) => (rebuildOut += b.toString('utf8')));
    expect(await rebuild.exited).toBe(0);
    const done = JSON.parse(rebuildOut.trim().split('\n').pop()!) as { message: string; generation: string; events: number };
    expect(done).toMatchObject({ message: 'rebuild done' });
    expect(done.events).toBeGreaterThan(0);
    const connection = mongoose.createConnection(stack.env.MONGODB_URI);
    try {
      const layout = new Layout(await dbOf(connection), { id: done.generation, partitions: 2 });
      const docs: Buffer[] = [];
      for (const coll of [...layout.allDevices(), ...layout.allUsers()]) {
        for await (const doc of coll.find({}, { raw: true } as object)) docs.push(Buffer.from(doc as unknown as Uint8Array));
      }
      const bytes = Buffer.concat(docs).toString('latin1');
      expect(bytes).toContain('erin-phone');
      expect(bytes).toContain('frank-phone');
      expect(leaks(bytes, ERIN_SECRETS)).toEqual([]);
      expect(leaks(bytes, [FRANK, FRANK_EMAIL])).toEqual([FRANK, FRANK_EMAIL]);
    } finally {
      await connection.close();
    }

    // 7. And at rest: neither the events nor the stream names hold them.
    expect(leaks(await rawStore(stack.env.POSTGRES_URL), ERIN_SECRETS)).toEqual([]);

    // 8. Every copy: each PostgreSQL table, MongoDB collection, topic (DLQs included) and process output.
    const scan = await copiesOf(stack, ERIN_SECRETS);
    expect(scan.found).toEqual([]);
    expect(scan.read.tables).toBeGreaterThan(10);
    expect(scan.read.collections).toBeGreaterThan(3);
    expect(scan.read.topics).toBeGreaterThan(5);
    expect(scan.read.logChars).toBeGreaterThan(1000);
    // The same scan finds what is still there: frank's user id and traits in the read models, which target by
    // them. His token, after registration, identify, a broadcast and a push, is nowhere whole (sealed or masked).
    const control = await copiesOf(stack, [FRANK, FRANK_EMAIL, TOKEN_C]);
    console.log(`erasure scan: ${JSON.stringify({ read: scan.read, erin: scan.found, frank: control.found })}`);
    expect(control.found).toEqual(expect.arrayContaining([expect.objectContaining({ secret: FRANK, where: expect.stringMatching(/^collection users_/) })]));
    expect(control.found.filter((c) => c.secret === TOKEN_C)).toEqual([]);
  });
});

/** The event store tables as text (stream ids, data, metadata), read without any key. */
async function rawStore(url: string): Promise<string> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ t: string }>(`SELECT string_agg(stream_id || ' ' || data::text || ' ' || metadata::text, E'\\n') AS t FROM event_store.events`);
    const streams = await c.query<{ t: string }>(`SELECT string_agg(stream_id, ' ') AS t FROM event_store.streams`);
    return `${rows[0]?.t ?? ''}\n${streams.rows[0]?.t ?? ''}`;
  } finally {
    await c.end();
  }
}
