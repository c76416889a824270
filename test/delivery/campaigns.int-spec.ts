import { topicsFor } from '@pushledger/contracts';
import { FcmSimulator } from '@pushledger/fcm';
import { api, repoRoot, scanTopics, startStack, Stack, testKafka, waitFor } from '@pushledger/testing';
import * as path from 'path';

type Api = ReturnType<typeof api>;

describe('campaigns and sends: device policy, consent, triggers, templates, circuit breaker', () => {
  let sim: FcmSimulator;
  let stack: Stack;
  let seq = 0;

  beforeAll(async () => {
    sim = await FcmSimulator.start({ certDir: path.join(repoRoot, '.data/fcm-sim-test') });
    stack = await startStack(['gateway', 'registration', 'identity', 'relay', 'projector', 'campaign', 'delivery'], { FCM_ENDPOINT: sim.url, FCM_CA_FILE: sim.caFile, DELIVERY_RETRY_BASE_MS: '100' });
  });
  afterAll(async () => {
    await stack?.stop();
    await sim?.stop();
  });

  async function appWith(settings: Record<string, unknown> = {}) {
    const app = await stack.createApp(settings);
    return { app, write: api(stack.url, app.writeKey), server: api(stack.url, app.serverKey) };
  }

  async function register(write: Api, userId: string, prefix = 'ok', extra: Record<string, unknown> = {}) {
    const id = `d${++seq}`;
    const token = `${prefix}:${id}-${Date.now()}-${'t'.repeat(32)}`;
    const res = await write.post('/v1/devices', { deviceId: id, token, provider: 'fcm', platform: 'android', userId, ...extra });
    expect(res.status).toBe(201);
    return { id, token };
  }

  async function linked(server: Api, userId: string, n: number) {
    await waitFor(async () => (await server.get(`/v1/users/${userId}`)).body?.deviceIds?.length === n, { what: `${userId} to have ${n} devices` });
  }

  async function outcomes(server: Api, messageId: string, n: number) {
    return waitFor(async () => {
      const res = await server.get(`/v1/messages/${messageId}`);
      return res.status === 200 && res.body.length >= n ? (res.body as { deviceId: string; outcome: string; reason?: string }[]) : undefined;
    }, { what: `${n} outcomes of ${messageId}`, timeoutMs: 60000 });
  }

  it("Loymax's setting: most_recent sends to one device per user (the latest token), all to every eligible device", async () => {
    for (const policy of ['most_recent', 'all'] as const) {
      const { write, server } = await appWith({ devicePolicy: policy });
      const devices: { id: string; token: string }[] = [];
      for (let i = 0; i < 3; i++) devices.push(await register(write, 'loyal'));
      await linked(server, 'loyal', 3);
      const res = await server.post('/v1/push', { to: { userId: 'loyal' }, notification: { title: 'Offer', body: 'Just for you' } });
      expect(res.status).toBe(202);
      if (policy === 'most_recent') {
        expect(res.body).toMatchObject({ targeted: 1, skipped: { not_chosen: 2 } });
        const got = await outcomes(server, res.body.messageId, 3);
        expect(got.find((o) => o.outcome === 'sent')!.deviceId).toBe(devices[2].id);
      } else {
        expect(res.body).toMatchObject({ targeted: 3, skipped: {} });
        const got = await outcomes(server, res.body.messageId, 3);
        expect(got.filter((o) => o.outcome === 'sent')).toHaveLength(3);
      }
    }
  });

  it('an unsubscribed user: a marketing push skips them (counted as unsubscribed), a transactional one reaches them', async () => {
    const { write, server } = await appWith();
    const d = await register(write, 'dora');
    await linked(server, 'dora', 1);
    expect((await server.patch('/v1/users/dora', { unsubscribed: true })).status).toBe(200);
    const marketing = await server.post('/v1/push', { to: { userId: 'dora' }, notification: { title: 'Sale', body: '50% off' } });
    expect(marketing.body).toMatchObject({ targeted: 0, skipped: { unsubscribed: 1 } });
    const transactional = await server.post('/v1/push', { to: { userId: 'dora' }, notification: { title: 'Receipt', body: 'Order #1' }, transactional: true });
    expect(transactional.body).toMatchObject({ targeted: 1 });
    expect((await outcomes(server, transactional.body.messageId, 1))[0]).toMatchObject({ deviceId: d.id, outcome: 'sent' });
    expect((await outcomes(server, marketing.body.messageId, 1))[0]).toMatchObject({ deviceId: d.id, outcome: 'skipped', reason: 'unsubscribed' });
  });

  it('a credential error on 90% of a batch invalidates no token and pauses the app', async () => {
    const { write, server } = await appWith();
    const devices: { id: string; token: string }[] = [];
    for (let i = 0; i < 18; i++) devices.push(await register(write, 'erin', 'mismatch'));
    for (let i = 0; i < 2; i++) devices.push(await register(write, 'erin', 'ok'));
    await linked(server, 'erin', 20);
    const first = await server.post('/v1/push', { to: { userId: 'erin' }, notification: { title: 'Hi', body: 'there' }, transactional: true });
    expect(first.body.targeted).toBe(20);
    await outcomes(server, first.body.messageId, 20);
    for (const d of devices) {
      const types = (await server.get(`/v1/devices/${d.id}/events`)).body.map((e: { type: string }) => e.type);
      expect(types).not.toContain('TokenInvalidated');
    }
    const second = await server.post('/v1/push', { to: { userId: 'erin' }, notification: { title: 'Again', body: 'x' }, transactional: true });
    const after = await outcomes(server, second.body.messageId, second.body.targeted);
    expect(after.length).toBeGreaterThan(0);
    for (const o of after) expect(o).toMatchObject({ outcome: 'failed', reason: 'app_paused:credentials' });
    expect(sim.requests().filter((r) => devices.some((d) => d.token === r.token)).length).toBe(20);
  });

  it('event-triggered campaigns: to the event user with a template, and to a custom device token named in the event', async () => {
    const { app, write, server } = await appWith();
    const d = await register(write, 'frank', 'ok', { locale: 'fr-FR' });
    const other = await register(write, 'gina');
    await linked(server, 'frank', 1);
    await server.patch('/v1/users/frank', { traits: { first_name: 'Frank' } });
    const cart = await server.post('/v1/campaigns', {
      name: 'cart',
      kind: 'triggered',
      trigger: { event: 'cart_abandoned', where: { stage: 'checkout' } },
      content: { title: 'Hi {{user.traits.first_name | default: "there"}}', body: 'Your {{event.properties.item}} is waiting', locales: { fr: { body: 'Votre {{event.properties.item}} vous attend' } } },
    });
    expect(cart.status).toBe(201);
    const shipped = await server.post('/v1/campaigns', { name: 'shipped', kind: 'triggered', transactional: true, trigger: { event: 'order_shipped', to: { kind: 'token', property: 'push_token' } }, content: { title: 'Shipped', body: 'Order {{event.properties.order}}' } });
    expect(shipped.status).toBe(201);
    const kafka = testKafka();
    const producer = kafka.producer();
    await producer.connect();
    const ingest = topicsFor(stack.suffix).ingest;
    const track = (m: Record<string, unknown>) => ({ key: String(m.userId), value: JSON.stringify({ type: 'track', writeKey: app.writeKey, ...m }) });
    await producer.send({
      topic: ingest,
      messages: [
        track({ userId: 'frank', event: 'cart_abandoned', messageId: 'e1', properties: { stage: 'browse', item: 'Lamp' } }),
        track({ userId: 'frank', event: 'cart_abandoned', messageId: 'e2', properties: { stage: 'checkout', item: 'Lamp' } }),
        track({ userId: 'frank', event: 'cart_abandoned', messageId: 'e2', properties: { stage: 'checkout', item: 'Lamp' } }),
        track({ userId: 'someone-else', event: 'order_shipped', messageId: 'e3', properties: { push_token: other.token, order: 'A-17' } }),
      ],
    });
    await producer.disconnect();
    const toFrank = await waitFor(async () => (sim.requestsFor(d.token).length ? sim.requestsFor(d.token) : undefined), { what: 'the triggered push to frank' });
    expect((toFrank[0].message as any).notification).toEqual({ title: 'Hi Frank', body: 'Votre Lamp vous attend' });
    const toGina = await waitFor(async () => (sim.requestsFor(other.token).length ? sim.requestsFor(other.token) : undefined), { what: 'the custom-token push' });
    expect((toGina[0].message as any).notification).toEqual({ title: 'Shipped', body: 'Order A-17' });
    const stats = await waitFor(async () => {
      const c = await server.get(`/v1/campaigns/${cart.body.id}`);
      return c.body.stats.sent === 1 ? c.body : undefined;
    }, { what: 'campaign stats' });
    expect(stats.stats).toMatchObject({ messages: 1, targeted: 1, sent: 1 });
    await new Promise((r) => setTimeout(r, 1000));
    expect(sim.requestsFor(d.token)).toHaveLength(1);
  });

  it('a transactional campaign sent to one user; receipts count as delivered and opened', async () => {
    const { write, server } = await appWith();
    const d = await register(write, 'hank');
    await linked(server, 'hank', 1);
    const c = await server.post('/v1/campaigns', { name: 'otp', kind: 'transactional', content: { title: 'Code', body: 'Your code is {{event.properties.code}}' } });
    const sent = await server.post(`/v1/campaigns/${c.body.id}/send`, { to: { userId: 'hank' }, properties: { code: '123456' } });
    expect(sent.status).toBe(202);
    expect(sent.body.targeted).toBe(1);
    await outcomes(server, sent.body.messageId, 1);
    expect((sim.requestsFor(d.token)[0].message as any).notification.body).toBe('Your code is 123456');
    expect((await write.post(`/v1/messages/${sent.body.messageId}/receipts`, { deviceId: d.id, kind: 'delivered' })).status).toBe(202);
    expect((await write.post(`/v1/messages/${sent.body.messageId}/receipts`, { deviceId: d.id, kind: 'opened' })).status).toBe(202);
    const stats = await waitFor(async () => {
      const got = await server.get(`/v1/campaigns/${c.body.id}`);
      return got.body.stats.opened === 1 ? got.body.stats : undefined;
    }, { what: 'receipts in stats' });
    expect(stats).toMatchObject({ targeted: 1, sent: 1, delivered: 1, opened: 1 });
  });
  it('a send whose waves are all targeted is still cancelled while a quota paces its delivery: the pairs not yet sent are skipped as cancelled', async () => {
    // One push a second: the broadcast's 30 pushes take 30 s at FCM, long after targeting has finished.
    const { write, server } = await appWith({ fcmQuotaPerMinute: 60 });
    const devices: { id: string; token: string }[] = [];
    for (let i = 0; i < 30; i++) devices.push(await register(write, `paced${i}`));
    for (let i = 0; i < 30; i++) await linked(server, `paced${i}`, 1);
    const c = await server.post('/v1/campaigns', { name: 'paced', kind: 'broadcast', content: { title: 'Paced', body: 'b' } });
    const send = await server.post(`/v1/campaigns/${c.body.id}/send`, {});
    expect(send.status).toBe(202);
    const messageId = send.body.messageId as string;
    await waitFor(async () => ((await server.get(`/v1/campaigns/${c.body.id}`)).body.sends?.[0]?.status === 'sent' ? true : undefined), { what: 'targeting to finish' });
    const atFcm = () => devices.filter((d) => sim.requestsFor(d.token).length > 0).length;
    const before = atFcm();
    expect(before).toBeLessThan(30);
    const cancelled = await server.post(`/v1/campaigns/${c.body.id}/sends/${messageId}/cancel`, {});
    expect([cancelled.status, cancelled.body]).toEqual([200, { messageId, status: 'cancelled' }]);
    const got = await outcomes(server, messageId, 30);
    const sent = got.filter((o) => o.outcome === 'sent');
    const stopped = got.filter((o) => o.outcome === 'skipped' && o.reason === 'cancelled');
    expect(sent.length + stopped.length).toBe(30);
    expect(stopped.length).toBeGreaterThan(0);
    expect(atFcm()).toBe(sent.length);
    const stats = (await server.get(`/v1/messages/${messageId}/stats`)).body;
    expect(stats).toMatchObject({ targeted: 30, sent: sent.length, skipped: { cancelled: stopped.length } });
    // A second cancel answers the same.
    expect((await server.post(`/v1/campaigns/${c.body.id}/sends/${messageId}/cancel`, {})).body).toEqual({ messageId, status: 'cancelled' });
  });

  it('delivery requests carry each recipient sealed with its device key: no token, user id or trait on the topic; a user erased before delivery opened the request is skipped as erased, never sent', async () => {
    const { write, server } = await appWith();
    const stamp = Date.now();
    const users = { kept: `kept-${stamp}`, gone: `gone-${stamp}` };
    const names = { kept: `Keptname${stamp}`, gone: `Gonename${stamp}` };
    const kept = await register(write, users.kept);
    const gone = await register(write, users.gone);
    for (const who of ['kept', 'gone'] as const) {
      await linked(server, users[who], 1);
      expect((await server.patch(`/v1/users/${users[who]}`, { traits: { first_name: names[who] } })).status).toBeLessThan(300);
    }
    const c = await server.post('/v1/campaigns', { name: 'sealed', kind: 'broadcast', content: { title: 'Hi {{user.traits.first_name}}', body: 'b' } });
    const topics = topicsFor(stack.suffix);
    // With delivery down the requests wait on the topic, sealed, while the user is erased.
    const delivery = stack.procs.get('delivery')!;
    delivery.kill('SIGKILL');
    await delivery.exited;
    let messageId: string;
    try {
      const send = await server.post(`/v1/campaigns/${c.body.id}/send`, {});
      expect(send.status).toBe(202);
      messageId = send.body.messageId;
      // Delivery is down, so the campaign's view (which reads delivery's counters) cannot answer: the requests on the topic say targeting is done.
      await waitFor(async () => {
        const queued = (await scanTopics(stack.suffix, (t) => t === topics.deliveryRequests)).filter((m) => m.value.includes(messageId));
        return queued.reduce((n, m) => n + (JSON.parse(m.value) as { targets: unknown[] }).targets.length, 0) === 2 ? true : undefined;
      }, { what: "the broadcast's two targets on the delivery requests topic" });
      expect((await server.delete(`/v1/users/${users.gone}`)).status).toBeLessThan(300);
      // A scheduled send is cancelled with delivery out of reach too (the gateway cannot read its counters).
      const later = await server.post('/v1/campaigns', { name: 'later', kind: 'broadcast', content: { title: 'Later', body: 'b' }, schedule: { at: new Date(Date.now() + 3_600_000).toISOString() } });
      const scheduled = await server.post(`/v1/campaigns/${later.body.id}/send`, {});
      expect((await server.post(`/v1/campaigns/${later.body.id}/sends/${scheduled.body.messageId}/cancel`, {})).body).toEqual({ messageId: scheduled.body.messageId, status: 'cancelled' });
    } finally {
      await stack.restart('delivery');
    }
    const got = await outcomes(server, messageId, 2);
    expect(got.find((o) => o.deviceId === gone.id)).toMatchObject({ outcome: 'skipped', reason: 'erased' });
    expect(got.find((o) => o.deviceId === kept.id)).toMatchObject({ outcome: 'sent' });
    expect(sim.requestsFor(gone.token)).toEqual([]);
    expect((sim.requestsFor(kept.token)[0].message as { notification: { title: string } }).notification.title).toBe(`Hi ${names.kept}`);

    const requests = (await scanTopics(stack.suffix, (t) => t === topics.deliveryRequests || t === topics.deliveryRequestsDlq)).filter((m) => m.value.includes(messageId));
    expect(requests.length).toBeGreaterThan(0);
    for (const secret of [kept.token, gone.token, users.kept, users.gone, names.kept, names.gone]) expect(requests.filter((m) => m.value.includes(secret) || m.key.includes(secret))).toEqual([]);
  });

  it('lists campaigns newest first a page at a time; a scheduled send is cancelled and never sent; a finished send answers 409; another app answers 404', async () => {
    const { write, server } = await appWith();
    const d = await register(write, 'ivy');
    await linked(server, 'ivy', 1);
    const ids: string[] = [];
    for (const name of ['first', 'second', 'third']) ids.push((await server.post('/v1/campaigns', { name, kind: 'broadcast', content: { title: name, body: 'b' } })).body.id);
    const page1 = await server.get('/v1/campaigns?limit=2');
    expect(page1.status).toBe(200);
    expect(page1.body.map((c: { name: string }) => c.name)).toEqual(['third', 'second']);
    const next = /<([^>]+)>; rel="next"/.exec(page1.headers.get('link') ?? '')?.[1];
    expect(next).toMatch(/^\/v1\/campaigns\?limit=2&after=/);
    const page2 = await server.get(next!);
    expect(page2.body.map((c: { name: string }) => c.name)).toEqual(['first']);
    expect(page2.headers.get('link')).toBeNull();
    expect((await server.get('/v1/campaigns?limit=0')).body.error).toMatchObject({ code: 'validation_failed' });
    expect((await server.get('/v1/campaigns?after=nonsense!')).status).toBe(400);

    const later = await server.post('/v1/campaigns', { name: 'later', kind: 'broadcast', content: { title: 'Later', body: 'b' }, schedule: { at: new Date(Date.now() + 3_600_000).toISOString() } });
    const scheduled = await server.post(`/v1/campaigns/${later.body.id}/send`, {});
    expect(scheduled.body).toMatchObject({ status: 'scheduled' });
    const cancelled = await server.post(`/v1/campaigns/${later.body.id}/sends/${scheduled.body.messageId}/cancel`, {});
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toEqual({ messageId: scheduled.body.messageId, status: 'cancelled' });
    expect((await server.post(`/v1/campaigns/${later.body.id}/sends/${scheduled.body.messageId}/cancel`, {})).body).toEqual({ messageId: scheduled.body.messageId, status: 'cancelled' });
    expect((await server.get(`/v1/campaigns/${later.body.id}`)).body.sends).toMatchObject([{ messageId: scheduled.body.messageId, status: 'cancelled', targeted: 0 }]);

    const now = await server.post(`/v1/campaigns/${ids[0]}/send`, {});
    await waitFor(async () => ((await server.get(`/v1/campaigns/${ids[0]}`)).body.sends?.[0]?.status === 'sent' ? true : undefined), { what: 'the broadcast to finish' });
    await outcomes(server, now.body.messageId, 1);
    expect(sim.requestsFor(d.token).map((r) => (r.message as { notification: { title: string } }).notification.title)).toEqual(['first']);
    const late = await server.post(`/v1/campaigns/${ids[0]}/sends/${now.body.messageId}/cancel`, {});
    expect(late.status).toBe(409);
    expect(late.body.error).toMatchObject({ code: 'send_finished' });
    expect((await server.post(`/v1/campaigns/${ids[1]}/sends/${now.body.messageId}/cancel`, {})).status).toBe(404);

    const other = await appWith();
    expect((await other.server.get('/v1/campaigns')).body).toEqual([]);
    const theirs = await other.server.post(`/v1/campaigns/${later.body.id}/sends/${scheduled.body.messageId}/cancel`, {});
    const missing = await other.server.post(`/v1/campaigns/${later.body.id}/sends/msg-that-never-was/cancel`, {});
    expect([theirs.status, theirs.body]).toEqual([missing.status, missing.body]);
    expect(theirs.status).toBe(404);
  });
});
