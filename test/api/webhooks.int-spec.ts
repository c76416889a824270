import { UserEventTypes } from '@pushledger/contracts';
import { FcmSimulator } from '@pushledger/fcm';
import { api, repoRoot, startStack, Stack, waitFor, WebhookReceiver } from '@pushledger/testing';
import * as path from 'path';
import { Pool } from 'pg';

const USER_EVENTS: readonly string[] = UserEventTypes;

describe('webhooks: subscriptions, signed deliveries of lifecycle facts and push outcomes, retries, tenancy', () => {
  let sim: FcmSimulator;
  let stack: Stack;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    sim = await FcmSimulator.start({ certDir: path.join(repoRoot, '.data/fcm-sim-test') });
    receiver = await WebhookReceiver.start();
    stack = await startStack(['gateway', 'registration', 'identity', 'relay', 'projector', 'campaign', 'delivery'], {
      FCM_ENDPOINT: sim.url,
      FCM_CA_FILE: sim.caFile,
      DELIVERY_RETRY_BASE_MS: '100',
      WEBHOOK_RETRY_BASE_MS: '50',
      WEBHOOK_TIMEOUT_MS: '2000',
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await receiver?.stop();
    await sim?.stop();
  });

  it('refuses a URL that is not http(s) and unknown event types, naming the field', async () => {
    const app = await stack.createApp();
    const server = api(stack.url, app.serverKey);
    const cases: [unknown, string][] = [
      [{ url: 'ftp://example.com/hook', events: ['PushOutcome'] }, 'url'],
      [{ url: 'not a url', events: ['PushOutcome'] }, 'url'],
      [{ url: 'https://example.com/hook', events: ['TokenInvalidated', 'Nope'] }, 'events[1]'],
      [{ url: 'https://example.com/hook', events: [] }, 'events'],
      [{ url: 'https://example.com/hook', events: ['*', 'PushOutcome'] }, 'events'],
      [{ url: 'https://example.com/hook' }, 'events'],
    ];
    for (const [body, field] of cases) {
      const res = await server.post('/v1/webhooks', body);
      expect([res.status, res.body.error.code, res.body.error.details?.[0]?.field]).toEqual([400, 'validation_failed', field]);
    }
    expect((await api(stack.url, app.writeKey).post('/v1/webhooks', { url: 'https://example.com/hook', events: ['*'] })).status).toBe(403);
  });

  it("delivers a device's facts in order and its push outcome, signed and with tokens masked; a receiver failing 3 times gets each on the 4th try", async () => {
    const app = await stack.createApp();
    const server = api(stack.url, app.serverKey);
    const write = api(stack.url, app.writeKey);
    const all = await server.post('/v1/webhooks', { url: receiver.url(`/all-${app.id}`, (attempt) => (attempt <= 3 ? 500 : 200)), events: ['*'] });
    expect(all.status).toBe(201);
    expect(all.body).toMatchObject({ id: expect.stringMatching(/^wh_/), events: ['*'], secret: expect.stringMatching(/^whsec_/) });
    const dead = await server.post('/v1/webhooks', { url: receiver.url(`/dead-${app.id}`), events: ['TokenInvalidated', 'PushOutcome'] });
    const listed = await server.get('/v1/webhooks');
    expect(listed.body.map((w: { id: string }) => w.id).sort()).toEqual([all.body.id, dead.body.id].sort());
    expect(JSON.stringify(listed.body)).not.toContain('whsec_');

    const token = `unregistered:webhook-${app.id}-${'x'.repeat(32)}`;
    const reg = await write.post('/v1/devices', { token, provider: 'fcm', platform: 'android', userId: 'wendy' });
    expect(reg.status).toBe(201);
    const deviceId = reg.body.id as string;
    const push = await server.post('/v1/push', { to: { deviceId }, notification: { title: 'Hi', body: 'there' } });
    expect(push.status).toBe(202);
    await waitFor(async () => (await server.get(`/v1/devices/${deviceId}`)).body?.status === 'invalid', { what: 'the token to be invalidated' });
    const history = ((await server.get(`/v1/devices/${deviceId}/events`)).body as { type: string }[]).map((e) => e.type);
    expect(history).toContain('TokenInvalidated');

    const okAt = (p: string) => {
      const seen = new Map<string, number>();
      return receiver.at(p).filter((r) => {
        const n = (seen.get(r.body.id) ?? 0) + 1;
        seen.set(r.body.id, n);
        return n === 4;
      });
    };
    const deviceFacts = () => okAt(`/all-${app.id}`).filter((r) => r.body.type !== 'PushOutcome' && !USER_EVENTS.includes(r.body.type));
    await waitFor(async () => deviceFacts().length === history.length && okAt(`/all-${app.id}`).some((r) => r.body.type === 'PushOutcome'), { what: 'every device fact and the outcome on their 4th try', timeoutMs: 90_000 });
    expect(deviceFacts().map((r) => r.body.type)).toEqual(history);
    const tries = new Map<string, number>();
    for (const r of receiver.at(`/all-${app.id}`)) tries.set(r.body.id, (tries.get(r.body.id) ?? 0) + 1);
    expect([...new Set(tries.values())]).toEqual([4]);
    expect(receiver.at(`/all-${app.id}`).every((r) => WebhookReceiver.verify(r, all.body.secret))).toBe(true);
    expect(receiver.at(`/all-${app.id}`).some((r) => r.body.type === 'Identified' || USER_EVENTS.includes(r.body.type))).toBe(true);
    const registered = deviceFacts().find((r) => r.body.type === 'TokenRegistered')!;
    expect(registered.body).toMatchObject({ appId: app.id, data: { deviceId, token: expect.stringMatching(/^unregi…[0-9a-f]{10}$/) } });
    expect(receiver.requests.some((r) => r.raw.includes(token))).toBe(false);

    await waitFor(async () => receiver.at(`/dead-${app.id}`).length === 2, { what: 'the TokenInvalidated and PushOutcome deliveries' });
    expect(receiver.at(`/dead-${app.id}`).map((r) => r.body.type).sort()).toEqual(['PushOutcome', 'TokenInvalidated']);
    expect(receiver.at(`/dead-${app.id}`).find((r) => r.body.type === 'PushOutcome')!.body.data).toMatchObject({ messageId: push.body.messageId, deviceId, outcome: 'invalidated' });
    expect(receiver.at(`/dead-${app.id}`).every((r) => WebhookReceiver.verify(r, dead.body.secret))).toBe(true);

    // Another app: the webhook is not there, exactly as one that never was.
    const other = api(stack.url, (await stack.createApp()).serverKey);
    const theirs = await other.delete(`/v1/webhooks/${dead.body.id}`);
    const missing = await other.delete('/v1/webhooks/wh_neverwas');
    expect([theirs.status, theirs.body]).toEqual([missing.status, missing.body]);
    expect(theirs.status).toBe(404);
    expect((await other.get('/v1/webhooks')).body).toEqual([]);
    expect((await server.delete(`/v1/webhooks/${dead.body.id}`)).status).toBe(204);
    expect((await server.get('/v1/webhooks')).body.map((w: { id: string }) => w.id)).toEqual([all.body.id]);
    expect((await server.delete(`/v1/webhooks/${dead.body.id}`)).status).toBe(404);
  });
  it('a receiver that never answers does not hold up a broadcast: every outcome is recorded while all of its deliveries are still owed', async () => {
    const n = 20;
    async function broadcast(hanging: boolean) {
      const app = await stack.createApp();
      const server = api(stack.url, app.serverKey);
      const write = api(stack.url, app.writeKey);
      if (hanging) expect((await server.post('/v1/webhooks', { url: receiver.url(`/hangs-${app.id}`, () => 'hang'), events: ['PushOutcome'] })).status).toBe(201);
      for (let i = 0; i < n; i++) {
        const res = await write.post('/v1/devices', { deviceId: `bc-${i}`, token: `ok:bc-${app.id}-${i}-${'x'.repeat(32)}`, provider: 'fcm', platform: 'android', userId: `bc-user-${i}` });
        expect(res.status).toBe(201);
      }
      const campaign = await server.post('/v1/campaigns', { name: 'everyone', kind: 'broadcast', content: { title: 'Hello', body: 'everyone' } });
      const started = Date.now();
      const send = await server.post(`/v1/campaigns/${campaign.body.id}/send`, {});
      expect(send.status).toBe(202);
      await waitFor(async () => (await server.get(`/v1/messages/${send.body.messageId}/stats`)).body?.sent === n, { what: `${n} pushes sent`, timeoutMs: 120_000 });
      return { app, ms: Date.now() - started };
    }
    const pg = new Pool({ connectionString: stack.env.POSTGRES_URL, max: 2 });
    try {
      const withHanging = await broadcast(true);
      const count = async (where: string) =>
        (await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM delivery.webhook_deliveries WHERE app_id = $1 AND ${where}`, [withHanging.app.id])).rows[0].n;
      // Outcomes reach the webhook table from the outcomes topic, after the counters the stats read: wait for all of them.
      await waitFor(async () => (await count('true')) === n, { what: `${n} outcome deliveries owed` });
      // Every outcome is owed to the receiver and none was taken: the broadcast finished without waiting for it.
      expect(await count('delivered_at IS NULL')).toBe(n);
      await waitFor(async () => receiver.at(`/hangs-${withHanging.app.id}`).length > 0, { what: 'the receiver to be sent to' });
      const without = await broadcast(false);
      console.log(JSON.stringify({ broadcastWithHangingWebhookMs: withHanging.ms, broadcastWithoutWebhookMs: without.ms, devices: n }));
    } finally {
      await pg.end();
    }
  });
});
