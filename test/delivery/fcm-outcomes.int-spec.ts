import { randomUUID } from 'node:crypto';
import { groupFor, tokenHash, topicsFor } from '@pushledger/contracts';
import { FcmSimulator } from '@pushledger/fcm';
import { api, openedValue, repoRoot, scanTopics, startStack, Stack, TestApp, testKafka, waitFor } from '@pushledger/testing';
import * as path from 'path';
import { Pool } from 'pg';

type Api = ReturnType<typeof api>;

describe('delivery through firebase-admin and the FCM simulator: each answer has exactly its device effect', () => {
  let sim: FcmSimulator;
  let stack: Stack;
  let app: TestApp;
  let write: Api;
  let server: Api;
  let n = 0;

  beforeAll(async () => {
    sim = await FcmSimulator.start({ certDir: path.join(repoRoot, '.data/fcm-sim-test'), quotaRetryAfterSeconds: 1, unavailableRetryAfterSeconds: 1 });
    stack = await startStack(['gateway', 'registration', 'identity', 'relay', 'projector', 'campaign', 'delivery'], {
      FCM_ENDPOINT: sim.url,
      FCM_CA_FILE: sim.caFile,
      DELIVERY_MAX_ATTEMPTS: '3',
      DELIVERY_RETRY_BASE_MS: '200',
    });
    app = await stack.createApp();
    write = api(stack.url, app.writeKey);
    server = api(stack.url, app.serverKey);
  });
  afterAll(async () => {
    await stack?.stop();
    await sim?.stop();
  });

  async function device(prefix: string, userId?: string) {
    const id = `dev-${++n}`;
    const token = `${prefix}:${id}-${Date.now()}-${'x'.repeat(40)}`;
    const res = await write.post('/v1/devices', { deviceId: id, token, provider: 'fcm', platform: 'android', ...(userId ? { userId } : {}) });
    expect(res.status).toBe(201);
    return { id, token };
  }

  async function pushTo(deviceId: string, extra: Record<string, unknown> = {}) {
    const res = await server.post('/v1/push', { to: { deviceId }, notification: { title: 'Hello', body: 'World' }, transactional: true, ...extra });
    expect(res.status).toBe(202);
    return res.body as { messageId: string; targeted: number; skipped: Record<string, number> };
  }

  async function outcome(messageId: string, deviceId: string) {
    return waitFor(async () => {
      const res = await server.get(`/v1/messages/${messageId}`);
      return res.status === 200 ? res.body.find((o: { deviceId: string }) => o.deviceId === deviceId) : undefined;
    }, { what: `the outcome of ${messageId}`, timeoutMs: 60000 });
  }

  async function eventsOf(deviceId: string): Promise<string[]> {
    return (await server.get(`/v1/devices/${deviceId}/events`)).body.map((e: { type: string }) => e.type);
  }

  async function settledView(deviceId: string, pred: (v: any) => boolean) {
    return waitFor(async () => {
      const v = await server.get(`/v1/devices/${deviceId}`);
      return pred(v.body) ? v.body : undefined;
    }, { what: `device ${deviceId} to settle`, timeoutMs: 30000 });
  }

  it('success → PushSent, last status sent', async () => {
    const d = await device('ok');
    const m = await pushTo(d.id);
    expect(m.targeted).toBe(1);
    expect(await outcome(m.messageId, d.id)).toMatchObject({ outcome: 'sent' });
    await settledView(d.id, (v) => v.lastStatus === 'sent');
    expect(await eventsOf(d.id)).toContain('PushSent');
    const req = sim.requestsFor(d.token);
    expect(req).toHaveLength(1);
    expect((req[0].message as any).android?.notification?.tag).toBe(m.messageId.slice(0, 64));
  });

  /** Once the registration service has consumed every command there is, device streams hold every fact sent so far will add. */
  async function registrationCaughtUp() {
    const admin = testKafka().admin();
    await admin.connect();
    try {
      const topic = topicsFor(stack.suffix).registrationCommands;
      await waitFor(
        async () => {
          const ends = await admin.fetchTopicOffsets(topic);
          const [committed] = await admin.fetchOffsets({ groupId: groupFor('pushledger-registration', stack.suffix), topics: [topic] });
          return ends.every((e) => Number(e.high) === 0 || Number(committed.partitions.find((p) => p.partition === e.partition)?.offset ?? -1) >= Number(e.high));
        },
        { what: 'the registration service to consume every delivery effect', timeoutMs: 60000, intervalMs: 500 },
      );
    } finally {
      await admin.disconnect();
    }
  }

  /** The types of the registration commands about a device; those delivery sent name its token by hash only. */
  async function registrationCommandsFor(device: { id: string; token: string }): Promise<string[]> {
    const topic = topicsFor(stack.suffix).registrationCommands;
    const commands = (await scanTopics(stack.suffix, (t) => t === topic))
      .map((m) => ({ raw: m.value, command: openedValue(stack.env, m.value) as { type: string; appId: string; deviceId?: string; tokenHash?: string } }))
      .filter(({ command }) => command.appId === app.id && command.deviceId === device.id);
    const fromDelivery = commands.filter(({ command }) => ['RecordPushSent', 'RecordPushBounced', 'InvalidateToken'].includes(command.type));
    expect(fromDelivery.filter(({ raw }) => raw.includes(device.token))).toEqual([]);
    expect(fromDelivery.every(({ command }) => command.tokenHash === tokenHash(device.token))).toBe(true);
    return commands.map(({ command }) => command.type);
  }

  it('100 successful pushes to one device leave one PushSent in its stream and send the registry one command, not 100', async () => {
    const d = await device('ok');
    const first = await pushTo(d.id);
    expect(await outcome(first.messageId, d.id)).toMatchObject({ outcome: 'sent' });
    await settledView(d.id, (v) => v.lastStatus === 'sent');
    const messages: string[] = [];
    for (let i = 0; i < 99; i++) messages.push((await pushTo(d.id)).messageId);
    for (const m of messages) expect(await outcome(m, d.id)).toMatchObject({ outcome: 'sent' });
    expect(sim.requestsFor(d.token)).toHaveLength(100);
    // Each outcome's device command was on Kafka before the outcome was readable.
    await registrationCaughtUp();
    expect((await eventsOf(d.id)).filter((t) => t === 'PushSent')).toHaveLength(1);
    expect((await server.get(`/v1/devices/${d.id}`)).body).toMatchObject({ lastStatus: 'sent' });
    expect((await registrationCommandsFor(d)).filter((t) => t === 'RecordPushSent')).toHaveLength(1);
  });

  it('a send between two bounces ends the run of bounces even when the sender still read the device as sent: bounced, not suppressed', async () => {
    const d = await device('ok');
    const first = await pushTo(d.id);
    expect(await outcome(first.messageId, d.id)).toMatchObject({ outcome: 'sent' });
    await settledView(d.id, (v) => v.lastStatus === 'sent');
    sim.script(d.token, ['sender-id-mismatch']);
    const bounced = await pushTo(d.id);
    expect(await outcome(bounced.messageId, d.id)).toMatchObject({ outcome: 'bounced' });
    // Pushed at once: the registry may not have taken the bounce yet, so this send can be targeted as `sent`.
    const between = await pushTo(d.id);
    expect(await outcome(between.messageId, d.id)).toMatchObject({ outcome: 'sent' });
    sim.script(d.token, ['sender-id-mismatch']);
    const last = await pushTo(d.id);
    expect(await outcome(last.messageId, d.id)).toMatchObject({ outcome: 'bounced' });
    await registrationCaughtUp();
    const events = await eventsOf(d.id);
    expect(events.filter((t) => t === 'PushBounced')).toHaveLength(2);
    expect(events).not.toContain('DeviceSuppressed');
    await settledView(d.id, (v) => v.lastStatus === 'bounced');
    expect((await registrationCommandsFor(d)).filter((t) => t.startsWith('RecordPush'))).toEqual(['RecordPushSent', 'RecordPushBounced', 'RecordPushSent', 'RecordPushBounced']);
  });

  it('a device effect queued before effects named tokens by hash (it carries the token) is still applied', async () => {
    const d = await device('ok');
    const producer = testKafka().producer();
    await producer.connect();
    try {
      const legacy = { type: 'RecordPushBounced', appId: app.id, deviceId: d.id, token: d.token, messageId: `legacy-${n}`, reason: 'UNAVAILABLE', commandId: randomUUID(), issuedAt: new Date().toISOString() };
      await producer.send({ topic: topicsFor(stack.suffix).registrationCommands, acks: -1, messages: [{ key: d.id, value: JSON.stringify(legacy) }] });
    } finally {
      await producer.disconnect();
    }
    await settledView(d.id, (v) => v.lastStatus === 'bounced');
    expect(await eventsOf(d.id)).toContain('PushBounced');
  });

  it.each([
    ['unregistered', 'UNREGISTERED'],
    ['invalid', 'INVALID_ARGUMENT'],
  ])('%s → TokenInvalidated, never sent again, re-registering it is 409', async (prefix) => {
    const d = await device(prefix);
    const m = await pushTo(d.id);
    expect(await outcome(m.messageId, d.id)).toMatchObject({ outcome: 'invalidated' });
    const v = await settledView(d.id, (x) => x.status === 'invalid');
    expect(v.status).toBe('invalid');
    expect((await eventsOf(d.id)).filter((t) => t === 'TokenInvalidated')).toHaveLength(1);
    const again = await pushTo(d.id);
    expect(again.targeted).toBe(0);
    expect(sim.requestsFor(d.token)).toHaveLength(1);
    const reg = await write.post('/v1/devices', { deviceId: d.id, token: d.token, provider: 'fcm', platform: 'android' });
    expect(reg.status).toBe(409);
    expect(reg.body.error.code).toBe('token_invalidated');
    expect(await registrationCommandsFor(d)).toContain('InvalidateToken');
  });

  it('SENDER_ID_MISMATCH → bounced, token left alone', async () => {
    const d = await device('mismatch');
    const m = await pushTo(d.id);
    expect(await outcome(m.messageId, d.id)).toMatchObject({ outcome: 'bounced' });
    const v = await settledView(d.id, (x) => x.lastStatus === 'bounced');
    expect(v.status).toBe('active');
    expect(await eventsOf(d.id)).not.toContain('TokenInvalidated');
  });

  it.each([
    ['thirdparty', 'credential_error'],
    ['notfound', 'config_error'],
    ['badpayload', 'invalid_payload'],
  ])('%s → the message fails, the token is not touched', async (prefix, reason) => {
    const d = await device(prefix);
    const m = await pushTo(d.id);
    const o = await outcome(m.messageId, d.id);
    expect(o.outcome).toBe('failed');
    expect(o.reason).toContain(reason);
    const view = (await server.get(`/v1/devices/${d.id}`)).body;
    expect(view).toMatchObject({ status: 'active', lastStatus: 'unused' });
    expect(await eventsOf(d.id)).toEqual(['TokenRegistered']);
  });

  it('QUOTA_EXCEEDED with Retry-After → retried no sooner than Retry-After, then sent', async () => {
    const d = await device('ok');
    sim.script(d.token, [{ kind: 'quota-exceeded', retryAfterSeconds: 1 }, 'success']);
    const m = await pushTo(d.id);
    expect(await outcome(m.messageId, d.id)).toMatchObject({ outcome: 'sent' });
    const attempts = sim.requestsFor(d.token);
    expect(attempts).toHaveLength(2);
    expect(attempts[1].time - attempts[0].time).toBeGreaterThanOrEqual(1000);
  });

  it('a Retry-After longer than a handler waits defers only the device that got it: the others are recorded at once, sent once, and it is sent after its wait', async () => {
    const user = `dora-${Date.now()}`;
    const waiting = await device('ok', user);
    const other = await device('ok', user);
    // Longer than MAX_WAIT_IN_HANDLER_MS (5 s): the handler must not sleep it out while holding the other device's outcome.
    sim.script(waiting.token, [{ kind: 'quota-exceeded', retryAfterSeconds: 8 }, 'success']);
    const res = await server.post('/v1/push', { to: { userId: user }, notification: { title: 'Hello', body: 'World' }, transactional: true });
    expect(res.status).toBe(202);
    expect(res.body.targeted).toBe(2);
    const late = await outcome(res.body.messageId, waiting.id);
    const early = await outcome(res.body.messageId, other.id);
    expect(late).toMatchObject({ outcome: 'sent' });
    expect(early).toMatchObject({ outcome: 'sent' });
    const pg = new Pool({ connectionString: stack.env.POSTGRES_URL, max: 1 });
    const ledger = await pg
      .query<{ device_id: string; attempts: number; at: Date; sends: number }>(
        `SELECT o.device_id, o.attempts, o.at, p.sends FROM delivery.message_outcomes o JOIN delivery.pairs p USING (message_id, device_id) WHERE o.message_id = $1`,
        [res.body.messageId],
      )
      .finally(() => pg.end());
    const row = (id: string) => ledger.rows.find((r) => r.device_id === id)!;
    expect([row(waiting.id).attempts, row(waiting.id).sends, row(other.id).attempts, row(other.id).sends]).toEqual([2, 2, 1, 1]);
    const tries = sim.requestsFor(waiting.token);
    expect(tries).toHaveLength(2);
    expect(tries[1].time - tries[0].time).toBeGreaterThanOrEqual(8000);
    // Recorded before the deferred device's second send: the request did not wait for it (in-handler sleep recorded both after it).
    expect(row(other.id).at.getTime()).toBeLessThan(tries[1].time);
    // The message came back after the wait; the device already done was not sent again.
    expect(sim.requestsFor(other.token)).toHaveLength(1);
  });

  it('INTERNAL until the attempts run out → bounced (retries exhausted), token alone', async () => {
    const d = await device('internal');
    const m = await pushTo(d.id);
    const o = await outcome(m.messageId, d.id);
    expect(o).toMatchObject({ outcome: 'bounced', reason: 'retries_exhausted' });
    expect(sim.requestsFor(d.token)).toHaveLength(3);
    await settledView(d.id, (x) => x.lastStatus === 'bounced');
    expect(await eventsOf(d.id)).not.toContain('TokenInvalidated');
  });

  it('Customer.io two-bounce rule: two failed sends → suppressed → not sent to → identify with the same token → sent again', async () => {
    const d = await device('ok', 'carol');
    sim.script(d.token, ['sender-id-mismatch', 'sender-id-mismatch']);
    const first = await pushTo(d.id);
    expect(await outcome(first.messageId, d.id)).toMatchObject({ outcome: 'bounced' });
    await settledView(d.id, (x) => x.lastStatus === 'bounced');
    const second = await pushTo(d.id);
    expect(await outcome(second.messageId, d.id)).toMatchObject({ outcome: 'bounced' });
    await settledView(d.id, (x) => x.lastStatus === 'suppressed');
    expect(await eventsOf(d.id)).toContain('DeviceSuppressed');
    const third = await pushTo(d.id);
    expect(third).toMatchObject({ targeted: 0, skipped: { suppressed: 1 } });
    expect(await outcome(third.messageId, d.id)).toMatchObject({ outcome: 'skipped', reason: 'suppressed' });
    expect(sim.requestsFor(d.token)).toHaveLength(2);
    const id = await write.post('/v1/identify', { token: d.token, userId: 'carol' });
    expect(id.status).toBe(200);
    expect(id.body.lastStatus).toBe('unused');
    const fourth = await pushTo(d.id);
    expect(fourth.targeted).toBe(1);
    expect(await outcome(fourth.messageId, d.id)).toMatchObject({ outcome: 'sent' });
  });
});
