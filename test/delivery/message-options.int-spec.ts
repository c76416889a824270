import { FCM_PAYLOAD_LIMIT_BYTES, pushPayloadBytes } from '@pushledger/contracts';
import { FcmSimulator } from '@pushledger/fcm';
import { AcceptedPush, api, finishedPush, finishedSend, repoRoot, startStack, Stack, TestApp, waitFor } from '@pushledger/testing';
import * as path from 'path';

/**
 * Message options (issue 17 item 5) end to end: each option given to a send API reaches the FCM
 * simulator's received request in FCM v1's field; bad combinations answer 400 naming the field, an
 * oversized payload 413. Subscription topics (item 6): a topic a user turned off is skipped for
 * transactional and marketing sends, other topics still arrive, and segment rules see topics.
 */

type Wire = {
  notification?: Record<string, unknown>;
  data?: Record<string, string>;
  android?: { collapse_key?: string; priority?: string; ttl?: string; notification?: Record<string, unknown> };
  apns?: { headers?: Record<string, string>; payload?: { aps?: Record<string, unknown> } };
  webpush?: { headers?: Record<string, string>; fcmOptions?: { link?: string } };
};

describe('message options and subscription topics reach FCM as documented', () => {
  let sim: FcmSimulator;
  let stack: Stack;
  let app: TestApp;
  let write: ReturnType<typeof api>;
  let server: ReturnType<typeof api>;
  let n = 0;

  beforeAll(async () => {
    sim = await FcmSimulator.start({ certDir: path.join(repoRoot, '.data/fcm-sim-test') });
    stack = await startStack(['gateway', 'registration', 'identity', 'relay', 'projector', 'campaign', 'delivery'], { FCM_ENDPOINT: sim.url, FCM_CA_FILE: sim.caFile });
    app = await stack.createApp({}, 'message_options');
    write = api(stack.url, app.writeKey);
    server = api(stack.url, app.serverKey);
  });
  afterAll(async () => {
    if (process.env.DEBUG_STACK) console.log(stack?.logs());
    await stack?.stop();
    await sim?.stop();
  });

  const unique = (label: string) => `mo-${label}-${Date.now().toString(36)}-${++n}`;
  // The `ok:` prefix makes the simulator answer success.
  const tokenOf = (id: string) => `ok:${id}:APA91b${'x'.repeat(40)}`;

  /** A user with one Android phone. */
  const userWithPhone = async (label: string) => {
    const deviceId = unique(label);
    const userId = `${deviceId}-user`;
    const token = tokenOf(deviceId);
    expect((await write.post('/v1/devices', { deviceId, token, provider: 'fcm', platform: 'android', userId })).status).toBe(201);
    return { deviceId, userId, token };
  };

  /** The request the simulator received for this message (by the message id Pushledger puts in data). */
  const received = async (token: string, messageId: string): Promise<Wire> => {
    const found = await waitFor(async () => sim.requestsFor(token).find((r) => (r.message as Wire | null)?.data?.pushledgerMessageId === messageId), { what: `the request of ${messageId}` });
    return found.message as Wire;
  };

  const push = async (body: Record<string, unknown>): Promise<AcceptedPush> => {
    const res = await server.post('/v1/push', body);
    expect(res.status).toBe(202);
    return res.body as AcceptedPush;
  };

  it('every option of POST /v1/push lands in its FCM field (android, apns, webpush, data)', async () => {
    const u = await userWithPhone('all');
    const before = Math.floor(Date.now() / 1000);
    const accepted = await push({
      to: { userId: u.userId },
      notification: { title: 'Hello', body: 'World', sound: 'chime.caf', badge: 3, link: 'https://example.com/orders/7' },
      data: { orderId: '7' },
      options: { ttlSeconds: 600, priority: 'high', collapseKey: 'order-7', androidChannelId: 'orders', contentAvailable: true, mutableContent: true },
    });
    expect(accepted).toMatchObject({ targeted: 1, skipped: {} });
    const m = await received(u.token, accepted.messageId);
    const after = Math.floor(Date.now() / 1000);
    expect(m.notification).toEqual({ title: 'Hello', body: 'World' });
    expect(m.data).toEqual({ orderId: '7', pushledgerMessageId: accepted.messageId, pushledgerLink: 'https://example.com/orders/7' });
    expect(m.android).toMatchObject({ collapse_key: 'order-7', priority: 'high', ttl: '600s' });
    expect(m.android?.notification).toMatchObject({ tag: 'order-7', channel_id: 'orders', sound: 'chime.caf', notification_count: 3 });
    expect(m.apns?.headers).toMatchObject({ 'apns-collapse-id': 'order-7', 'apns-priority': '10', 'apns-push-type': 'alert' });
    const expiration = Number(m.apns?.headers?.['apns-expiration']);
    expect(expiration).toBeGreaterThanOrEqual(before + 600);
    expect(expiration).toBeLessThanOrEqual(after + 600);
    expect(m.apns?.payload?.aps).toEqual({ sound: 'chime.caf', badge: 3, 'content-available': 1, 'mutable-content': 1 });
    expect(m.webpush).toEqual({ headers: { TTL: '600', Urgency: 'high' }, fcmOptions: { link: 'https://example.com/orders/7' } });
    expect(await finishedPush(server, accepted)).toEqual([{ deviceId: u.deviceId, outcome: 'sent' }]);
  });

  it('without options the collapse key is still the message id, and nothing else is set', async () => {
    const u = await userWithPhone('plain');
    const accepted = await push({ to: { deviceId: u.deviceId }, notification: { title: 'Plain', body: 'push' } });
    const m = await received(u.token, accepted.messageId);
    const tag = accepted.messageId.slice(0, 64);
    expect(m.android).toEqual({ collapse_key: tag, notification: { tag } });
    expect(m.apns).toEqual({ headers: { 'apns-collapse-id': tag, 'apns-push-type': 'alert' }, payload: { aps: {} } });
    expect(m.webpush).toBeUndefined();
    expect(m.data).toEqual({ pushledgerMessageId: accepted.messageId });
  });

  it('a data-only push has no notification block and goes to iOS as a background push', async () => {
    const u = await userWithPhone('silent');
    const accepted = await push({ to: { userId: u.userId }, data: { sync: 'inbox' }, options: { priority: 'normal', ttlSeconds: 0 }, transactional: true });
    const m = await received(u.token, accepted.messageId);
    expect(m).not.toHaveProperty('notification');
    expect(m.android).not.toHaveProperty('notification');
    expect(m.android).toMatchObject({ priority: 'normal', ttl: '0s' });
    expect(m.apns?.headers).toMatchObject({ 'apns-push-type': 'background', 'apns-priority': '5', 'apns-expiration': '0' });
    expect(m.apns?.payload?.aps).toEqual({ 'content-available': 1 });
    expect(m.webpush?.headers).toEqual({ TTL: '0', Urgency: 'normal' });
    expect(m.data).toEqual({ sync: 'inbox', pushledgerMessageId: accepted.messageId });
  });

  it('a data-only push asking for high priority keeps it on Android and goes to APNs at priority 5', async () => {
    const u = await userWithPhone('silent-high');
    const accepted = await push({ to: { userId: u.userId }, data: { wake: '1' }, options: { priority: 'high' } });
    const m = await received(u.token, accepted.messageId);
    expect(m.android?.priority).toBe('high');
    expect(m.apns?.headers?.['apns-priority']).toBe('5');
  });

  it('campaign content and Twilio sends carry the same options', async () => {
    const u = await userWithPhone('campaign');
    const c = await server.post('/v1/campaigns', {
      name: 'options',
      kind: 'transactional',
      content: { title: 'Hi {{user.id}}', body: 'B', sound: 'default', badge: 1, link: 'myapp://inbox', options: { collapseKey: 'inbox', androidChannelId: 'news' } },
    });
    expect(c.status).toBe(201);
    const sent = await server.post(`/v1/campaigns/${c.body.id}/send`, { to: { userId: u.userId } });
    expect(sent.status).toBe(202);
    const m = await received(u.token, sent.body.messageId);
    expect(m.notification).toEqual({ title: `Hi ${u.userId}`, body: 'B' });
    expect(m.android?.notification).toMatchObject({ tag: 'inbox', channel_id: 'news', sound: 'default', notification_count: 1 });
    expect(m.apns?.payload?.aps).toEqual({ sound: 'default', badge: 1 });
    expect(m.data?.pushledgerLink).toBe('myapp://inbox');
    // An app link is not a web link: FCM takes https links only for web pushes.
    expect(m.webpush).toBeUndefined();

    const silent = await server.post('/v1/campaigns', { name: 'silent', kind: 'transactional', content: { dataOnly: true, data: { refresh: 'yes' } } });
    expect(silent.status).toBe(201);
    const silentSent = await server.post(`/v1/campaigns/${silent.body.id}/send`, { to: { userId: u.userId } });
    const sm = await received(u.token, silentSent.body.messageId);
    expect(sm).not.toHaveProperty('notification');
    expect(sm.data).toMatchObject({ refresh: 'yes' });

    const basic = { authorization: `Basic ${Buffer.from(`${app.id}:${app.serverKey}`).toString('base64')}` };
    const t = await api(stack.url).post('/v1/PushNotifications', { to: [{ userId: u.userId }], content: { title: 'T', body: 'B', sound: 'ping', data: { k: 'v' } }, options: { ttlSeconds: 30, collapseKey: 'tw' } }, basic);
    expect(t.status).toBe(202);
    const tm = await received(u.token, t.body.messages[0].messageId);
    expect(tm.android).toMatchObject({ collapse_key: 'tw', ttl: '30s' });
    expect(tm.android?.notification).toMatchObject({ sound: 'ping' });
    expect(tm.data).toMatchObject({ k: 'v' });
  });

  it('contradictory or out-of-range options answer 400 naming the field; nothing is sent', async () => {
    const u = await userWithPhone('bad');
    const to = { userId: u.userId };
    const cases: [Record<string, unknown>, string][] = [
      [{ to, data: { a: '1' }, options: { mutableContent: true } }, 'options.mutableContent'],
      [{ to, data: { a: '1' }, options: { androidChannelId: 'x' } }, 'options.androidChannelId'],
      [{ to, data: { a: '1' }, options: { contentAvailable: false } }, 'options.contentAvailable'],
      [{ to }, 'data'],
      [{ to, notification: {} }, 'notification'],
      [{ to, notification: { title: 't', link: 'not a url' } }, 'notification.link'],
      [{ to, notification: { title: 't', link: 'javascript://alert(1)' } }, 'notification.link'],
      [{ to, notification: { title: 't', badge: -1 } }, 'notification.badge'],
      [{ to, notification: { title: 't' }, options: { ttlSeconds: 2_419_201 } }, 'options.ttlSeconds'],
      [{ to, notification: { title: 't' }, options: { ttlSeconds: 1.5 } }, 'options.ttlSeconds'],
      [{ to, notification: { title: 't' }, options: { priority: 'urgent' } }, 'options.priority'],
      [{ to, notification: { title: 't' }, options: { collapseKey: 'k'.repeat(65) } }, 'options.collapseKey'],
      [{ to, notification: { title: 't' }, topic: 'has space' }, 'topic'],
    ];
    for (const [body, field] of cases) {
      const res = await server.post('/v1/push', body);
      expect({ body, status: res.status, code: res.body?.error?.code, fields: (res.body?.error?.details as { field: string }[] | undefined)?.map((d) => d.field) }).toEqual({
        body,
        status: 400,
        code: 'validation_failed',
        fields: expect.arrayContaining([field]),
      });
    }
    const campaign = await server.post('/v1/campaigns', { name: 'bad', kind: 'transactional', content: { dataOnly: true, sound: 'x', data: { a: '1' } } });
    expect(campaign.status).toBe(400);
    expect(campaign.body.error.details).toEqual([{ field: 'content.sound', reason: expect.any(String) }]);
    expect(sim.requestsFor(u.token)).toHaveLength(0);
  });

  it('a payload over FCM\'s 4096 bytes answers 413 payload_too_large, on every send API', async () => {
    const u = await userWithPhone('big');
    const big = await server.post('/v1/push', { to: { userId: u.userId }, notification: { title: 'big' }, data: { blob: 'x'.repeat(4100) } });
    expect(big.status).toBe(413);
    expect(big.body).toEqual({ error: { code: 'payload_too_large', message: expect.stringContaining('4096'), details: { limit: 4096, size: expect.any(Number) } } });
    expect(big.body.error.details.size).toBeGreaterThan(4096);
    // Just under the limit is accepted (multi-byte characters count as bytes).
    const fits = await server.post('/v1/push', { to: { userId: u.userId }, notification: { title: 'é'.repeat(1000) }, data: { blob: 'x'.repeat(1500) } });
    expect(fits.status).toBe(202);
    const tooManyBytes = await server.post('/v1/push', { to: { userId: u.userId }, notification: { title: 'é'.repeat(1000) }, data: { blob: 'x'.repeat(2100) } });
    expect(tooManyBytes.status).toBe(413);
    const campaign = await server.post('/v1/campaigns', { name: 'big', kind: 'broadcast', content: { title: 't', body: 'b'.repeat(4000), data: { more: 'x'.repeat(200) } } });
    expect(campaign.status).toBe(413);
    const basic = { authorization: `Basic ${Buffer.from(`${app.id}:${app.serverKey}`).toString('base64')}` };
    const twilio = await api(stack.url).post('/v1/PushNotifications', { to: [{ userId: u.userId }], content: { title: 't', body: 'b'.repeat(4090) } }, basic);
    expect(twilio.status).toBe(413);
    expect(twilio.body.error.code).toBe('payload_too_large');
  });

  it('a push the gateway takes at exactly 4096 bytes, every option set, is sent: FCM counts the payload (notification and data), not the delivery options', async () => {
    const u = await userWithPhone('at-limit');
    const notification = { title: 'Hello', body: 'é'.repeat(100), sound: 'chime.caf', badge: 3, link: 'https://example.com/orders/7' };
    const options = { ttlSeconds: 600, priority: 'high' as const, collapseKey: 'c'.repeat(64), androidChannelId: 'orders', mutableContent: true };
    const sized = (blob: string) => pushPayloadBytes({ title: notification.title, body: notification.body, imageUrl: null, data: { blob }, sound: notification.sound, badge: notification.badge, link: notification.link, options });
    const blob = 'x'.repeat(FCM_PAYLOAD_LIMIT_BYTES - sized(''));
    expect(sized(blob)).toBe(FCM_PAYLOAD_LIMIT_BYTES);
    const accepted = await push({ to: { userId: u.userId }, notification, data: { blob }, options });
    expect(await finishedPush(server, accepted)).toEqual([{ deviceId: u.deviceId, outcome: 'sent' }]);
    // The Android, APNs and Web Push blocks the sender adds made the request larger than the limit.
    const wire = await received(u.token, accepted.messageId);
    expect(Buffer.byteLength(JSON.stringify({ data: wire.data, notification: wire.notification, android: wire.android, apns: wire.apns, webpush: wire.webpush }))).toBeGreaterThan(FCM_PAYLOAD_LIMIT_BYTES);
    const over = await server.post('/v1/push', { to: { userId: u.userId }, notification, data: { blob: `${blob}x` }, options });
    expect(over.status).toBe(413);
  });

  it('a topic the user turned off is skipped (topic_unsubscribed) for transactional and marketing pushes; other topics still arrive', async () => {
    const u = await userWithPhone('topics');
    const patched = await server.patch(`/v1/users/${u.userId}`, { topics: { news: false, offers: true } });
    expect(patched.status).toBe(200);
    expect(patched.body.topics).toEqual({ news: false, offers: true });
    expect((await server.patch(`/v1/users/${u.userId}`, { topics: { 'bad.name': false } })).body.error.details[0].field).toBe('topics.bad.name');
    expect((await server.patch(`/v1/users/${u.userId}`, { topics: { news: 'no' } })).status).toBe(400);

    for (const transactional of [false, true]) {
      const off = await push({ to: { userId: u.userId }, notification: { title: 'news' }, topic: 'news', transactional });
      expect(off).toMatchObject({ targeted: 0, skipped: { topic_unsubscribed: 1 } });
      expect(await finishedPush(server, off)).toEqual([{ deviceId: u.deviceId, outcome: 'skipped', reason: 'topic_unsubscribed' }]);
      const on = await push({ to: { userId: u.userId }, notification: { title: 'offers' }, topic: 'offers', transactional });
      expect(on).toMatchObject({ targeted: 1 });
      const never = await push({ to: { userId: u.userId }, notification: { title: 'never set' }, topic: 'weather', transactional });
      expect(never).toMatchObject({ targeted: 1 });
      await received(u.token, on.messageId);
      await received(u.token, never.messageId);
      expect(sim.requestsFor(u.token).some((r) => (r.message as Wire).data?.pushledgerMessageId === off.messageId)).toBe(false);
    }
    // Global unsubscribe is still its own switch: it stops marketing, and a transactional push on an allowed topic arrives.
    expect((await server.patch(`/v1/users/${u.userId}`, { unsubscribed: true })).status).toBe(200);
    expect(await push({ to: { userId: u.userId }, notification: { title: 'm' }, topic: 'offers' })).toMatchObject({ targeted: 0, skipped: { unsubscribed: 1 } });
    expect(await push({ to: { userId: u.userId }, notification: { title: 't' }, topic: 'offers', transactional: true })).toMatchObject({ targeted: 1 });
    // Turning the topic back on lets it through again.
    expect((await server.patch(`/v1/users/${u.userId}`, { topics: { news: true } })).body.topics).toEqual({ news: true, offers: true });
    expect(await push({ to: { userId: u.userId }, notification: { title: 'news' }, topic: 'news', transactional: true })).toMatchObject({ targeted: 1 });
  });

  it('a broadcast with a topic skips the users who turned it off, and segment rules select by topic', async () => {
    const own = await stack.createApp({}, 'topics_broadcast');
    const w = api(stack.url, own.writeKey);
    const s = api(stack.url, own.serverKey);
    const users = ['t-off', 't-on', 't-unset'];
    for (const userId of users) expect((await w.post('/v1/devices', { deviceId: `${userId}-phone`, token: tokenOf(`${userId}-${own.id}`), provider: 'fcm', platform: 'android', userId })).status).toBe(201);
    expect((await s.patch('/v1/users/t-off', { topics: { promo: false } })).status).toBe(200);
    expect((await s.patch('/v1/users/t-on', { topics: { promo: true } })).status).toBe(200);

    const preview = async (rules: unknown) => {
      const res = await s.post('/v1/segments/preview', { rules });
      expect(res.status).toBe(200);
      return res.body as { count: number; sample: string[] };
    };
    // The read models follow the store: the preview reads them, so wait until both settings are there.
    await waitFor(async () => (await preview({ topic: 'promo', op: 'eq', value: false })).count === 1 && (await preview({ topic: 'promo', op: 'exists' })).count === 2, { what: 'the read models to hold the topics' });
    expect((await preview({ topic: 'promo', op: 'eq', value: false })).sample).toEqual(['t-off']);
    expect((await preview({ topic: 'promo', op: 'eq', value: true })).sample.sort()).toEqual(['t-on', 't-unset']);
    expect((await preview({ topic: 'promo', op: 'ne', value: true })).sample).toEqual(['t-off']);
    expect((await preview({ topic: 'promo', op: 'exists', value: false })).sample).toEqual(['t-unset']);
    expect((await preview({ all: [{ topic: 'promo', op: 'exists' }, { not: { topic: 'promo', op: 'eq', value: false } }] })).sample).toEqual(['t-on']);
    const badRule = await s.post('/v1/segments/preview', { rules: { topic: 'promo', op: 'gt', value: 1 } });
    expect(badRule.status).toBe(400);

    const c = await s.post('/v1/campaigns', { name: 'promo', kind: 'broadcast', topic: 'promo', content: { title: 'Promo', body: 'Now' } });
    expect(c.status).toBe(201);
    expect(c.body.topic).toBe('promo');
    const sent = await s.post(`/v1/campaigns/${c.body.id}/send`, {});
    expect(sent.status).toBe(202);
    expect(await finishedSend(s, c.body.id, sent.body.messageId)).toMatchObject({ status: 'sent', targeted: 2, skipped: { topic_unsubscribed: 1 } });
    await waitFor(async () => sim.requestsFor(tokenOf(`t-on-${own.id}`)).length === 1 && sim.requestsFor(tokenOf(`t-unset-${own.id}`)).length === 1, { what: 'the broadcast to the subscribed users' });
    expect(sim.requestsFor(tokenOf(`t-off-${own.id}`))).toHaveLength(0);
  });

  it('Customer.io person attributes set topics (cio_subscription_preferences), the global unsubscribe and traits', async () => {
    const u = await userWithPhone('cio');
    const basic = { authorization: `Basic ${Buffer.from(`${app.id}:${app.writeKey}`).toString('base64')}` };
    const cio = api(stack.url);
    const res = await cio.put(`/api/v1/customers/${u.userId}`, { email: 'a@example.com', plan: 'pro', cio_subscription_preferences: { topics: { topic_1: false, topic_2: true } }, 'cio_subscription_preferences.topics.topic_3': false }, basic);
    expect(res.status).toBe(200);
    const user = (await server.get(`/v1/users/${u.userId}`)).body;
    expect(user).toMatchObject({ traits: { email: 'a@example.com', plan: 'pro' }, topics: { topic_1: false, topic_2: true, topic_3: false }, unsubscribed: false });
    expect(user.traits).not.toHaveProperty('cio_subscription_preferences');
    expect(await push({ to: { userId: u.userId }, notification: { title: 'x' }, topic: 'topic_1', transactional: true })).toMatchObject({ targeted: 0, skipped: { topic_unsubscribed: 1 } });
    expect(await push({ to: { userId: u.userId }, notification: { title: 'x' }, topic: 'topic_2' })).toMatchObject({ targeted: 1 });
    expect((await cio.put(`/api/v1/customers/${u.userId}`, { unsubscribed: true }, basic)).status).toBe(200);
    expect((await server.get(`/v1/users/${u.userId}`)).body.unsubscribed).toBe(true);
    const bad = await cio.put(`/api/v1/customers/${u.userId}`, { cio_subscription_preferences: { topics: { topic_1: 'yes' } } }, basic);
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].field).toBe('cio_subscription_preferences.topics.topic_1');
  });
});
