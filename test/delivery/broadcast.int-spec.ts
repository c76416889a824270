import { Client } from 'pg';
import { topicsFor } from '@pushledger/contracts';
import { createEventStore } from '@pushledger/event-store';
import { ReadModels } from '@pushledger/read-models';
import mongoose from 'mongoose';
import { FcmSimulator } from '@pushledger/fcm';
import { api, repoRoot, startStack, Stack, testKafka, TestApp, waitFor } from '@pushledger/testing';
import * as path from 'path';

const DEVICES = Number(process.env.PUSHLEDGER_BROADCAST_DEVICES ?? 20000);

describe('broadcast campaigns through the read models, the delivery service and the FCM simulator', () => {
  let sim: FcmSimulator;
  let stack: Stack;
  let app: TestApp;
  let server: ReturnType<typeof api>;
  let mongo: mongoose.Connection;
  const eligibleUsers = async (appId: string) => (await new ReadModels(mongo, { pointerTtlMs: 0 }).preview(appId, { eligibleDevice: true }, { now: new Date(), staleAfterDays: 60 })).count;

  beforeAll(async () => {
    sim = await FcmSimulator.start({ certDir: path.join(repoRoot, '.data/fcm-sim-test'), latencyMs: 40 });
    stack = await startStack(['gateway', 'registration', 'identity', 'relay', 'projector', 'campaign', 'delivery'], { FCM_ENDPOINT: sim.url, FCM_CA_FILE: sim.caFile, DELIVERY_RETRY_BASE_MS: '100' });
    app = await stack.createApp({ rateLimitPerSecond: 100000 });
    server = api(stack.url, app.serverKey);
    mongo = await mongoose.createConnection(stack.env.MONGODB_URI).asPromise();
  });
  afterAll(async () => {
    await mongo?.close();
    await stack?.stop();
    await sim?.stop();
  });

  it('a marketing broadcast skips an unsubscribed user and counts them', async () => {
    const other = await stack.createApp();
    const w = api(stack.url, other.writeKey);
    const s = api(stack.url, other.serverKey);
    await w.post('/v1/devices', { deviceId: 'u1-phone', token: 'ok:bcast-u1-aaaaaaaaaaaaaaaaaaaa', provider: 'fcm', platform: 'ios', userId: 'u1' });
    await w.post('/v1/devices', { deviceId: 'u2-phone', token: 'ok:bcast-u2-aaaaaaaaaaaaaaaaaaaa', provider: 'fcm', platform: 'ios', userId: 'u2' });
    await w.post('/v1/devices', { deviceId: 'anon-phone', token: 'ok:bcast-anon-aaaaaaaaaaaaaaaaaa', provider: 'fcm', platform: 'ios' });
    await s.patch('/v1/users/u2', { unsubscribed: true });
    const c = await s.post('/v1/campaigns', { name: 'promo', kind: 'broadcast', content: { title: 'Promo', body: 'Now' } });
    // The read models follow the store: wait until they show u2 unsubscribed and both identified users.
    await waitFor(async () => (await new ReadModels(mongo, { pointerTtlMs: 0 }).user(other.id, 'u2'))?.unsubscribed === true && (await eligibleUsers(other.id)) === 2, { what: 'the read models to catch up' });
    const sent = await s.post(`/v1/campaigns/${c.body.id}/send`, {});
    expect(sent.status).toBe(202);
    expect(sent.body).toMatchObject({ targeted: 1, skipped: { unsubscribed: 1 } });
    await waitFor(async () => sim.requestsFor('ok:bcast-u1-aaaaaaaaaaaaaaaaaaaa').length === 1, { what: 'the push to u1' });
    expect(sim.requestsFor('ok:bcast-u2-aaaaaaaaaaaaaaaaaaaa')).toHaveLength(0);
    expect(sim.requestsFor('ok:bcast-anon-aaaaaaaaaaaaaaaaaa')).toHaveLength(0);
  });

  it(`SIGKILL of the delivery service three times during a ${DEVICES}-device broadcast: at least once, at most twice, duplicates bounded by what was in flight`, async () => {
    const kafka = testKafka();
    const producer = kafka.producer();
    await producer.connect();
    const tokens: string[] = [];
    const unregistered = new Set<string>();
    for (let i = 0; i < DEVICES; i += 1000) {
      const messages = [];
      for (let j = i; j < Math.min(DEVICES, i + 1000); j++) {
        const dead = j % 100 === 7;
        const token = `${dead ? 'unregistered' : 'ok'}:bc${j}-${'z'.repeat(24)}`;
        tokens.push(token);
        if (dead) unregistered.add(token);
        messages.push({ key: `dev-${j}`, value: JSON.stringify({ type: 'track', event: 'register push', userId: `user-${Math.floor(j / 2)}`, messageId: `reg-${j}`, writeKey: app.writeKey, properties: { deviceId: `dev-${j}`, fcmToken: token, deviceType: j % 2 ? 'iOS' : 'Android' } }) });
      }
      await producer.send({ topic: topicsFor(stack.suffix).ingest, acks: -1, messages });
    }
    await producer.disconnect();
    await waitFor(async () => (await eligibleUsers(app.id)) === DEVICES / 2, { what: `${DEVICES / 2} users with an eligible device in the read models`, timeoutMs: 600000, intervalMs: 1000 });

    const c = await server.post('/v1/campaigns', { name: 'big', kind: 'broadcast', content: { title: 'Big', body: 'news' } });
    const sent = await server.post(`/v1/campaigns/${c.body.id}/send`, {});
    expect(sent.status).toBe(202);
    expect(sent.body.targeted).toBe(DEVICES);
    const messageId = sent.body.messageId as string;

    const pg = new Client({ connectionString: stack.env.POSTGRES_URL });
    await pg.connect();
    const inFlightAtKills: number[] = [];
    const distinctSeen = () => new Set(sim.requests().filter((r) => r.token.startsWith('ok:bc') || r.token.startsWith('unregistered:bc')).map((r) => r.token)).size;
    for (let k = 1; k <= 3; k++) {
      await waitFor(async () => distinctSeen() >= (DEVICES * k) / 5, { what: `kill ${k}`, timeoutMs: 300000, intervalMs: 20 });
      stack.procs.get('delivery')!.kill('SIGKILL');
      await stack.procs.get('delivery')!.exited;
      const { rows } = await pg.query("SELECT count(*)::int AS n FROM delivery.pairs WHERE message_id = $1 AND state = 'done'", [messageId]);
      inFlightAtKills.push(distinctSeen() - rows[0].n);
      await stack.restart('delivery');
    }
    await waitFor(async () => distinctSeen() === DEVICES, { what: 'every device to be sent to', timeoutMs: 600000, intervalMs: 500 });
    await waitFor(async () => {
      const { rows } = await pg.query("SELECT count(*)::int AS n FROM delivery.pairs WHERE message_id = $1 AND state = 'done'", [messageId]);
      return rows[0].n === DEVICES;
    }, { what: 'every pair to be done', timeoutMs: 300000, intervalMs: 500 });
    await pg.end();

    const perToken = new Map<string, number>();
    for (const r of sim.requests()) if (r.token.includes(':bc')) perToken.set(r.token, (perToken.get(r.token) ?? 0) + 1);
    const duplicates = [...perToken.values()].reduce((a, n) => a + (n - 1), 0);
    expect(perToken.size).toBe(DEVICES);
    expect(Math.max(...perToken.values())).toBeLessThanOrEqual(2);
    expect(duplicates).toBeLessThanOrEqual(inFlightAtKills.reduce((a, b) => a + b, 0));
    console.log(`broadcast of ${DEVICES}: in flight at the kills ${inFlightAtKills.join(', ')}; duplicate sends ${duplicates}`);

    const store = await createEventStore({ eventStore: { kind: 'postgres', postgresUrl: stack.env.POSTGRES_URL } });
    const invalidatedPerStream = new Map<string, number>();
    await waitFor(async () => {
      invalidatedPerStream.clear();
      for await (const e of store.readAll({ filter: { eventTypes: ['TokenInvalidated'], streamPrefixes: [`device-${app.id}-`] } })) invalidatedPerStream.set(e.stream, (invalidatedPerStream.get(e.stream) ?? 0) + 1);
      return invalidatedPerStream.size === unregistered.size;
    }, { what: 'every UNREGISTERED token to be invalidated', timeoutMs: 120000, intervalMs: 1000 });
    await store.close();
    expect([...invalidatedPerStream.values()].every((n) => n === 1)).toBe(true);
  });
});
