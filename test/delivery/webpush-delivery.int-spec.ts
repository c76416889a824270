import * as path from 'path';
import { FcmSimulator } from '@pushledger/fcm';
import { api, repoRoot, startStack, Stack, waitFor, type TestApp } from '@pushledger/testing';
import { generateVapidKeys, WebPushSimulator } from '@pushledger/webpush';

type Api = ReturnType<typeof api>;
type Created = TestApp;

describe('Web Push delivery through the web-push library and the Web Push simulator', () => {
  let sim: WebPushSimulator;
  let fcmSim: FcmSimulator;
  let stack: Stack;
  let admin: Api;
  let n = 0;
  const vapid = generateVapidKeys('mailto:ops@example.com');

  beforeAll(async () => {
    sim = await WebPushSimulator.start();
    fcmSim = await FcmSimulator.start({ certDir: path.join(repoRoot, '.data/fcm-sim-test') });
    stack = await startStack(['gateway', 'registration', 'identity', 'relay', 'projector', 'campaign', 'delivery'], {
      FCM_ENDPOINT: fcmSim.url,
      FCM_CA_FILE: fcmSim.caFile,
      WEBPUSH_CA_FILE: sim.caFile,
      DELIVERY_MAX_ATTEMPTS: '3',
      DELIVERY_RETRY_BASE_MS: '200',
    });
    admin = api(stack.url, stack.adminToken);
  });
  afterAll(async () => {
    await stack?.stop();
    await sim?.stop();
    await fcmSim?.stop();
  });

  const createApp = (name: string, webpush?: object) => stack.createApp({}, name, webpush ? { webpush } : {});

  async function device(app: Created, userId?: string) {
    const id = `web-${++n}`;
    const sub = sim.subscribe({ applicationServerKey: vapid.publicKey });
    const res = await api(stack.url, app.writeKey).post('/v1/devices', { deviceId: id, token: JSON.stringify(sub), provider: 'webpush', platform: 'web', ...(userId ? { userId } : {}) });
    expect(res.status).toBe(201);
    return { id, sub };
  }

  async function outcomes(app: Created, messageId: string) {
    return waitFor(
      async () => {
        const res = await api(stack.url, app.serverKey).get(`/v1/messages/${messageId}`);
        return res.status === 200 && res.body.length >= 1 && res.body[0].outcome !== 'pending' ? (res.body as { deviceId: string; outcome: string; reason?: string }[]) : undefined;
      },
      { what: `the outcome of ${messageId}`, timeoutMs: 60000 },
    );
  }

  it('credentials are validated naming the field, and the private key is never answered back', async () => {
    const bad = await admin.post('/v1/apps', { name: 'bad', webpush: { ...vapid, subject: 'ftp://x' } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.error)).toContain('subject');
    const mismatched = await admin.post('/v1/apps', { name: 'bad', webpush: { ...vapid, publicKey: generateVapidKeys().publicKey } });
    expect(mismatched.status).toBe(400);
    expect(JSON.stringify(mismatched.body.error)).toContain('publicKey');
    const app = await createApp('webpush-shown', vapid);
    const got = await admin.get(`/v1/apps/${app.id}`);
    expect(got.body.webpush).toMatchObject({ subject: vapid.subject, publicKey: vapid.publicKey, hasPrivateKey: true });
    expect(JSON.stringify(got.body)).not.toContain(vapid.privateKey);
  });

  it('a subscription that is not one is refused with 400 naming token', async () => {
    const app = await createApp('webpush-bad-token', vapid);
    const res = await api(stack.url, app.writeKey).post('/v1/devices', { token: '{"endpoint":"http://x"}', provider: 'webpush', platform: 'web' });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body.error)).toContain('token');
  });

  it('a web push device receives the payload encrypted; the simulator decrypts it with the subscription keys; options become TTL, Urgency and Topic', async () => {
    const app = await createApp('webpush-app', vapid);
    const web = await device(app);
    const res = await api(stack.url, app.serverKey).post('/v1/push', {
      to: { deviceId: web.id },
      notification: { title: 'Hello', body: 'World' },
      data: { k: 'v' },
      options: { ttlSeconds: 600, priority: 'high', collapseKey: 'news' },
    });
    expect(res.status).toBe(202);
    const got = (await outcomes(app, res.body.messageId))[0];
    expect(got).toMatchObject({ deviceId: web.id, outcome: 'sent' });
    const [r] = sim.requestsFor(web.sub.endpoint);
    expect(r).toMatchObject({ status: 201, headers: { ttl: '600', urgency: 'high', topic: 'news', 'content-encoding': 'aes128gcm' } });
    expect(r.payload).toMatchObject({ notification: { title: 'Hello', body: 'World' }, data: { k: 'v', pushledgerMessageId: res.body.messageId } });
    expect(r.vapid).toMatchObject({ header: { alg: 'ES256' }, claims: { sub: vapid.subject }, k: vapid.publicKey });
    expect(fcmSim.requests().filter((q) => JSON.stringify(q.message).includes(web.sub.endpoint))).toHaveLength(0);
  });

  it('410 from the push service invalidates the device; a re-registration is refused with 409', async () => {
    const app = await createApp('webpush-gone', vapid);
    const web = await device(app);
    sim.unsubscribe(web.sub.endpoint);
    const res = await api(stack.url, app.serverKey).post('/v1/push', { to: { deviceId: web.id }, notification: { title: 'Hello', body: 'World' }, transactional: true });
    expect(res.status).toBe(202);
    expect((await outcomes(app, res.body.messageId))[0]).toMatchObject({ outcome: 'invalidated' });
    await waitFor(async () => (await api(stack.url, app.serverKey).get(`/v1/devices/${web.id}`)).body?.status === 'invalid', { what: 'the device invalidated' });
    const again = await api(stack.url, app.writeKey).post('/v1/devices', { deviceId: web.id, token: JSON.stringify(web.sub), provider: 'webpush', platform: 'web' });
    expect(again.status).toBe(409);
  });

  it('429 and 500 from the push service are retried with back-off, then sent: one outcome for the pair', async () => {
    const app = await createApp('webpush-retry', vapid);
    const web = await device(app);
    sim.script(web.sub.endpoint, [429, 500]);
    const res = await api(stack.url, app.serverKey).post('/v1/push', { to: { deviceId: web.id }, notification: { title: 'Hello', body: 'again' } });
    expect(res.status).toBe(202);
    expect((await outcomes(app, res.body.messageId))[0]).toMatchObject({ outcome: 'sent' });
    expect(sim.requestsFor(web.sub.endpoint).map((r) => r.status)).toEqual([429, 500, 201]);
    expect((await api(stack.url, app.serverKey).get(`/v1/messages/${res.body.messageId}`)).body).toHaveLength(1);
  });

  it('403 (VAPID keys the browsers did not subscribe with) on most of a batch pauses the app\'s web push sends, not its FCM sends, and invalidates nothing; resume lifts it', async () => {
    const other = generateVapidKeys('mailto:ops@example.com');
    const app = await createApp('webpush-breaker', other);
    const user = `u-webpush-breaker-${Date.now()}`;
    const webs: Awaited<ReturnType<typeof device>>[] = [];
    for (let i = 0; i < 10; i++) webs.push(await device(app, user));
    const first = await api(stack.url, app.serverKey).post('/v1/push', { to: { userId: user }, notification: { title: 'Hello', body: 'World' } });
    expect(first.body).toMatchObject({ targeted: 10 });
    const got = await waitFor(
      async () => {
        const r = await api(stack.url, app.serverKey).get(`/v1/messages/${first.body.messageId}`);
        return r.status === 200 && r.body.length === 10 && r.body.every((o: { outcome: string }) => o.outcome !== 'pending') ? (r.body as { outcome: string; reason?: string }[]) : undefined;
      },
      { what: 'ten outcomes', timeoutMs: 60000 },
    );
    expect(got.every((o) => o.outcome === 'failed')).toBe(true);
    for (const w of webs) expect(sim.requestsFor(w.sub.endpoint)[0]).toMatchObject({ status: 403 });

    const before = sim.requests().length;
    const paused = await api(stack.url, app.serverKey).post('/v1/push', { to: { deviceId: webs[0].id }, notification: { title: 'Hello', body: 'paused' } });
    expect((await outcomes(app, paused.body.messageId))[0]).toMatchObject({ outcome: 'failed', reason: 'app_paused:webpush_credentials' });
    expect(sim.requests().length).toBe(before);

    const androidId = `android-${++n}`;
    const android = await api(stack.url, app.writeKey).post('/v1/devices', { deviceId: androidId, token: `ok:${androidId}-${Date.now()}-${'x'.repeat(40)}`, provider: 'fcm', platform: 'android' });
    expect(android.status).toBe(201);
    const fcmPush = await api(stack.url, app.serverKey).post('/v1/push', { to: { deviceId: androidId }, notification: { title: 'Hello', body: 'fcm' } });
    expect((await outcomes(app, fcmPush.body.messageId))[0]).toMatchObject({ outcome: 'sent' });

    for (const w of webs) expect((await api(stack.url, app.serverKey).get(`/v1/devices/${w.id}`)).body).toMatchObject({ status: 'active' });

    expect((await admin.patch(`/v1/apps/${app.id}`, { webpush: vapid })).status).toBe(200);
    const resumed = await api(stack.url, app.serverKey).post(`/v1/apps/${app.id}/sends/resume`, {});
    expect(resumed.body).toEqual({ appId: app.id, resumed: true });
    const after = await waitFor(
      async () => {
        const r = await api(stack.url, app.serverKey).post('/v1/push', { to: { deviceId: webs[1].id }, notification: { title: 'Hello', body: 'resumed' } });
        const o = (await outcomes(app, r.body.messageId))[0];
        return o.outcome === 'sent' ? o : undefined;
      },
      { what: 'a send with the right keys after resume', timeoutMs: 60000 },
    );
    expect(after).toMatchObject({ deviceId: webs[1].id, outcome: 'sent' });
  });

  it('a push within FCM\'s 4096 bytes but over Web Push\'s 3993 skips the web device as payload_too_large, answered at once and recorded; a data-only push has no notification', async () => {
    const app = await createApp('webpush-large', vapid);
    const web = await device(app);
    const res = await api(stack.url, app.serverKey).post('/v1/push', { to: { deviceId: web.id }, notification: { title: 'Hello', body: 'big' }, data: { blob: 'x'.repeat(3920) } });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ targeted: 0, skipped: { payload_too_large: 1 } });
    expect((await outcomes(app, res.body.messageId))[0]).toMatchObject({ deviceId: web.id, outcome: 'skipped', reason: 'payload_too_large' });
    expect(sim.requestsFor(web.sub.endpoint)).toHaveLength(0);

    const silent = await api(stack.url, app.serverKey).post('/v1/push', { to: { deviceId: web.id }, data: { sync: '1' } });
    expect(silent.status).toBe(202);
    expect((await outcomes(app, silent.body.messageId))[0]).toMatchObject({ outcome: 'sent' });
    const [r] = sim.requestsFor(web.sub.endpoint);
    expect(r.payload).toEqual({ data: { sync: '1', pushledgerMessageId: silent.body.messageId } });
    expect(r.headers).toMatchObject({ urgency: 'normal' });
  });

  it('an app without VAPID credentials skips its web push devices with no_credentials; nothing is sent', async () => {
    const app = await createApp('webpush-none');
    const web = await device(app);
    const res = await api(stack.url, app.serverKey).post('/v1/push', { to: { deviceId: web.id }, notification: { title: 'Hello', body: 'World' } });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ targeted: 0, skipped: { no_credentials: 1 } });
    expect(sim.requestsFor(web.sub.endpoint)).toHaveLength(0);
  });
});
