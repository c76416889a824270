import * as path from 'path';
import { FcmSimulator } from '@pushledger/fcm';
import { api, repoRoot, startStack, Stack, waitFor } from '@pushledger/testing';
import { generateVapidKeys, WebPushSimulator } from '@pushledger/webpush';

type Api = ReturnType<typeof api>;
interface Created {
  id: string;
  name: string;
  writeKey: string;
  serverKey: string;
}

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

  async function createApp(name: string, webpush?: object): Promise<Created> {
    const res = await admin.post('/v1/apps', { name, fcm: { projectId: 'test-proj', serviceAccount: null }, ...(webpush ? { webpush } : {}) });
    expect(res.status).toBe(201);
    return res.body as Created;
  }

  async function device(app: Created) {
    const id = `web-${++n}`;
    const sub = sim.subscribe({ applicationServerKey: vapid.publicKey });
    const res = await api(stack.url, app.writeKey).post('/v1/devices', { deviceId: id, token: JSON.stringify(sub), provider: 'webpush', platform: 'web' });
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

  it('an app without VAPID credentials skips its web push devices with no_credentials; nothing is sent', async () => {
    const app = await createApp('webpush-none');
    const web = await device(app);
    const res = await api(stack.url, app.serverKey).post('/v1/push', { to: { deviceId: web.id }, notification: { title: 'Hello', body: 'World' } });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ targeted: 0, skipped: { no_credentials: 1 } });
    expect(sim.requestsFor(web.sub.endpoint)).toHaveLength(0);
  });
});
