import { createPublicKey, generateKeyPairSync, randomBytes, verify } from 'crypto';
import * as path from 'path';
import { ApnsSimulator, type ApnsSimReply } from '@pushledger/apns';
import { FcmSimulator } from '@pushledger/fcm';
import { deviceIdFromToken, groupFor, topicsFor } from '@pushledger/contracts';
import { api, repoRoot, startStack, Stack, testKafka, waitFor, type TestApp } from '@pushledger/testing';

type Api = ReturnType<typeof api>;
type Created = TestApp;

const TEAM = 'TEAM000001';
const BUNDLE = 'com.example.pushledger';
const p8 = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const hexToken = () => randomBytes(32).toString('hex');

describe('APNs delivery through @parse/node-apn and the APNs simulator: routing by provider, credentials, each answer with its effect', () => {
  let apnsSim: ApnsSimulator;
  let fcmSim: FcmSimulator;
  let stack: Stack;
  let admin: Api;
  let n = 0;
  const keys = { a: p8(), c: p8(), d: p8() };

  beforeAll(async () => {
    apnsSim = await ApnsSimulator.start({ certDir: path.join(repoRoot, '.data/apns-sim-test') });
    fcmSim = await FcmSimulator.start({ certDir: path.join(repoRoot, '.data/fcm-sim-test') });
    stack = await startStack(['gateway', 'registration', 'identity', 'relay', 'projector', 'campaign', 'delivery'], {
      FCM_ENDPOINT: fcmSim.url,
      FCM_CA_FILE: fcmSim.caFile,
      APNS_ENDPOINT: apnsSim.url,
      APNS_CA_FILE: apnsSim.caFile,
      DELIVERY_MAX_ATTEMPTS: '3',
      DELIVERY_RETRY_BASE_MS: '200',
    });
    admin = api(stack.url, stack.adminToken);
    apnsSim.trustKey({ keyId: 'KEYAAAAAA1', teamId: TEAM, key: keys.a, topics: [BUNDLE] });
    apnsSim.trustKey({ keyId: 'KEYCCCCCC1', teamId: TEAM, key: keys.c, topics: [BUNDLE] });
  });
  afterAll(async () => {
    await stack?.stop();
    await apnsSim?.stop();
    await fcmSim?.stop();
  });

  const apnsBody = (keyId: string, privateKey: string) => ({ teamId: TEAM, keyId, bundleId: BUNDLE, privateKey, production: false });

  const createApp = (name: string, apns?: Record<string, unknown>) => stack.createApp({}, name, apns ? { apns } : {});

  async function device(app: Created, provider: 'apns' | 'fcm', userId?: string) {
    const id = `dev-${++n}`;
    const token = provider === 'apns' ? hexToken() : `ok:${id}-${Date.now()}-${'x'.repeat(40)}`;
    const res = await api(stack.url, app.writeKey).post('/v1/devices', { deviceId: id, token, provider, platform: provider === 'apns' ? 'ios' : 'android', ...(userId ? { userId } : {}) });
    expect(res.status).toBe(201);
    return { id, token, registeredAt: res.body.registeredAt as string };
  }

  async function push(app: Created, to: Record<string, string>) {
    const res = await api(stack.url, app.serverKey).post('/v1/push', { to, notification: { title: 'Hello', body: 'World' }, data: { k: 'v' }, transactional: true });
    expect(res.status).toBe(202);
    return res.body as { messageId: string; targeted: number; skipped: Record<string, number> };
  }

  async function outcomes(app: Created, messageId: string, count: number) {
    return waitFor(
      async () => {
        const res = await api(stack.url, app.serverKey).get(`/v1/messages/${messageId}`);
        return res.status === 200 && res.body.length >= count ? (res.body as { deviceId: string; outcome: string; reason?: string }[]) : undefined;
      },
      { what: `${count} outcomes of ${messageId}`, timeoutMs: 60000 },
    );
  }

  async function registrationCaughtUp() {
    const kafka = testKafka().admin();
    await kafka.connect();
    try {
      const topic = topicsFor(stack.suffix).registrationCommands;
      await waitFor(
        async () => {
          const ends = await kafka.fetchTopicOffsets(topic);
          const [committed] = await kafka.fetchOffsets({ groupId: groupFor('pushledger-registration', stack.suffix), topics: [topic] });
          return ends.every((e) => Number(e.high) === 0 || Number(committed.partitions.find((p) => p.partition === e.partition)?.offset ?? -1) >= Number(e.high));
        },
        { what: 'the registration service to consume every delivery effect', timeoutMs: 60000, intervalMs: 300 },
      );
    } finally {
      await kafka.disconnect();
    }
  }

  const view = async (app: Created, deviceId: string) => (await api(stack.url, app.serverKey).get(`/v1/devices/${deviceId}`)).body;
  const eventsOf = async (app: Created, deviceId: string): Promise<string[]> => (await api(stack.url, app.serverKey).get(`/v1/devices/${deviceId}/events`)).body.map((e: { type: string }) => e.type);

  function expectValidRequest(token: string, keyId: string, key: string) {
    const [req] = apnsSim.requestsFor(token);
    expect(req).toBeDefined();
    expect(req.headers).toMatchObject({ ':method': 'POST', ':path': `/3/device/${token}`, 'apns-topic': BUNDLE, 'apns-push-type': 'alert', 'apns-collapse-id': expect.any(String) });
    expect(req.jwt).toEqual({ header: { alg: 'ES256', kid: keyId, typ: 'JWT' }, claims: { iss: TEAM, iat: expect.any(Number) } });
    // The signature checked here too, independently of the simulator.
    const [h, c, s] = req.headers.authorization.replace(/^bearer /, '').split('.');
    expect(verify('sha256', Buffer.from(`${h}.${c}`), { key: createPublicKey(key), dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'))).toBe(true);
    expect(req.body).toMatchObject({ aps: { alert: { title: 'Hello', body: 'World' } }, k: 'v', pushledgerMessageId: expect.any(String) });
    expect(req.status).toBe(200);
  }

  describe('credentials on /v1/apps', () => {
    it('are validated field by field (400 naming the field), shown without the key, never answered back', async () => {
      const bad = async (apns: Record<string, unknown>, field: string) => {
        const res = await admin.post('/v1/apps', { name: 'bad', apns: { ...apnsBody('KEYAAAAAA1', keys.a), ...apns } });
        expect(res.status).toBe(400);
        expect(JSON.stringify(res.body.error)).toContain(field);
      };
      await bad({ teamId: 'short' }, 'teamId');
      await bad({ keyId: 'lower-case!' }, 'keyId');
      await bad({ bundleId: 'nodots' }, 'bundleId');
      await bad({ production: 'yes' }, 'production');
      await bad({ privateKey: 'not a key' }, 'privateKey');
      const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      await bad({ privateKey: rsa }, 'apns.privateKey');

      const app = await createApp('apns-shown', apnsBody('KEYAAAAAA1', keys.a));
      const got = await admin.get(`/v1/apps/${app.id}`);
      expect(got.body.apns).toEqual({ teamId: TEAM, keyId: 'KEYAAAAAA1', bundleId: BUNDLE, production: false, hasPrivateKey: true });
      const all = await admin.get('/v1/apps');
      const secret = keys.a.split('\n')[1];
      for (const body of [got.body, all.body]) expect(JSON.stringify(body)).not.toContain(secret);
      expect(stack.logs()).not.toContain(secret);
    });
  });

  describe('routing', () => {
    let app: Created;
    beforeAll(async () => {
      app = await createApp('apns_app', apnsBody('KEYAAAAAA1', keys.a));
    });

    it('message options reach APNs in their fields; a data-only push is a background push without an alert', async () => {
      const ios = await device(app, 'apns', `u-opts-${Date.now()}`);
      const server = api(stack.url, app.serverKey);
      const before = Math.floor(Date.now() / 1000);
      const withOptions = await server.post('/v1/push', {
        to: { deviceId: ios.id },
        notification: { title: 'Sale', body: 'Today', sound: 'chime.caf', badge: 3, link: 'https://example.com/sale' },
        data: { k: 'v' },
        options: { ttlSeconds: 600, priority: 'normal', collapseKey: 'sale-1', contentAvailable: true, mutableContent: true },
      });
      expect(withOptions.status).toBe(202);
      await outcomes(app, withOptions.body.messageId, 1);
      const [req] = apnsSim.requestsFor(ios.token);
      expect(req.headers).toMatchObject({ 'apns-collapse-id': 'sale-1', 'apns-priority': '5', 'apns-push-type': 'alert' });
      expect(Number(req.headers['apns-expiration'])).toBeGreaterThanOrEqual(before + 600);
      expect(Number(req.headers['apns-expiration'])).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 600);
      expect(req.body).toEqual({
        aps: { alert: { title: 'Sale', body: 'Today' }, sound: 'chime.caf', badge: 3, 'content-available': 1, 'mutable-content': 1 },
        k: 'v',
        pushledgerMessageId: withOptions.body.messageId,
        pushledgerLink: 'https://example.com/sale',
      });

      const silent = await server.post('/v1/push', { to: { deviceId: ios.id }, data: { sync: '1' }, options: { priority: 'high' } });
      expect(silent.status).toBe(202);
      await outcomes(app, silent.body.messageId, 1);
      const quiet = apnsSim.requestsFor(ios.token)[1];
      expect(quiet.headers).toMatchObject({ 'apns-push-type': 'background', 'apns-priority': '5', 'apns-collapse-id': silent.body.messageId });
      expect(quiet.headers['apns-expiration']).toBeUndefined();
      expect(quiet.body).toEqual({ aps: { 'content-available': 1 }, sync: '1', pushledgerMessageId: silent.body.messageId });
    });

    it('POST /v1/devices: a user with an APNs and an FCM device gets each through its own provider; the FCM simulator never sees the APNs token', async () => {
      const user = `u-route-${Date.now()}`;
      const ios = await device(app, 'apns', user);
      const android = await device(app, 'fcm', user);
      const m = await push(app, { userId: user });
      expect(m).toMatchObject({ targeted: 2, skipped: {} });
      const got = await outcomes(app, m.messageId, 2);
      expect(got.map((o) => [o.deviceId, o.outcome]).sort()).toEqual([[ios.id, 'sent'], [android.id, 'sent']].sort());
      expectValidRequest(ios.token, 'KEYAAAAAA1', keys.a);
      expect(apnsSim.requestsFor(ios.token)).toHaveLength(1);
      expect(fcmSim.requests().filter((r) => JSON.stringify(r.message).includes(ios.token))).toHaveLength(0);
      expect(fcmSim.requestsFor(android.token)).toHaveLength(1);
      expect(apnsSim.requestsFor(android.token)).toHaveLength(0);
    });

    it('Twilio DeviceRegistrations with provider APNs, then a Twilio send: it arrives at the APNs simulator with a valid JWT', async () => {
      const token = hexToken();
      const user = `comms_user_apns${Date.now().toString(36)}`;
      const twilio = api(stack.url, app.writeKey);
      const reg = await twilio.post('/v1/PushNotifications/DeviceRegistrations', { userId: user, token, appName: app.name, provider: 'APNs' });
      expect(reg.status).toBe(201);
      expect(reg.body.devices).toEqual([{ provider: 'APNs', token: expect.any(String) }]);
      const send = await api(stack.url, app.serverKey).post('/v1/PushNotifications', { to: [{ userId: user }], content: { title: 'Hello', body: 'World' } });
      expect(send.status).toBe(202);
      expect(send.body.messages[0]).toMatchObject({ targeted: 1, skipped: {} });
      await outcomes(app, send.body.messages[0].messageId, 1);
      const [req] = apnsSim.requestsFor(token);
      expect(req).toMatchObject({ status: 200, headers: { 'apns-topic': BUNDLE }, jwt: { header: { kid: 'KEYAAAAAA1' }, claims: { iss: TEAM } } });
      expect(fcmSim.requests().filter((r) => JSON.stringify(r.message).includes(token))).toHaveLength(0);
    });

    it('Customer.io, Masivo and Segment name no provider: an iOS hex token is sent through APNs, an iOS FCM token through FCM', async () => {
      const cioAuth = { authorization: `Basic ${Buffer.from(`${app.id}:${app.writeKey}`).toString('base64')}` };
      const routes: { api: string; register: (user: string, token: string) => Promise<{ status: number }>; deviceId: (token: string) => string }[] = [
        {
          api: 'customerio',
          register: (user, token) => api(stack.url).put(`/api/v1/customers/${user}/devices`, { device: { id: token, platform: 'ios' } }, cioAuth),
          deviceId: deviceIdFromToken,
        },
        {
          api: 'masivo',
          register: (user, token) => api(stack.url, app.writeKey).patch(`/v1/customers/${user}/device-token`, { device_token: token, device_info: { platform: 'ios' } }),
          deviceId: deviceIdFromToken,
        },
        {
          api: 'segment',
          register: (user, token) =>
            api(stack.url).post('/v1/track', { userId: user, event: 'register push', type: 'track', properties: { deviceId: `seg-${token.slice(0, 16)}`, token, deviceType: 'iOS' }, writeKey: app.writeKey }),
          deviceId: (token) => `seg-${token.slice(0, 16)}`,
        },
      ];
      for (const route of routes) {
        const user = `u-${route.api}-${Date.now()}`;
        const apnsToken = hexToken();
        const fcmToken = `${route.api}${Date.now()}:APA91b${randomBytes(48).toString('base64url')}`;
        for (const token of [apnsToken, fcmToken]) expect((await route.register(user, token)).status).toBe(200);
        const [iosApns, iosFcm] = [route.deviceId(apnsToken), route.deviceId(fcmToken)];
        await waitFor(async () => (await view(app, iosApns))?.userId === user && (await view(app, iosFcm))?.userId === user, { what: `the ${route.api} registrations` });
        expect(await view(app, iosApns)).toMatchObject({ provider: 'apns', platform: 'ios' });
        expect(await view(app, iosFcm)).toMatchObject({ provider: 'fcm', platform: 'ios' });

        const m = await push(app, { userId: user });
        expect(m).toMatchObject({ targeted: 2, skipped: {} });
        const got = await outcomes(app, m.messageId, 2);
        expect(got.map((o) => [o.deviceId, o.outcome]).sort()).toEqual([[iosApns, 'sent'], [iosFcm, 'sent']].sort());
        expectValidRequest(apnsToken, 'KEYAAAAAA1', keys.a);
        expect(fcmSim.requests().filter((r) => JSON.stringify(r.message).includes(apnsToken))).toHaveLength(0);
        expect(fcmSim.requestsFor(fcmToken)).toHaveLength(1);
        expect(apnsSim.requestsFor(fcmToken)).toHaveLength(0);
      }
    });

    it('PATCH /v1/apps gives an app APNs credentials: its APNs devices are then sent to, signed with the new key', async () => {
      const later = await createApp('apns-later');
      const user = `u-later-${Date.now()}`;
      const ios = await device(later, 'apns', user);
      expect(await push(later, { userId: user })).toMatchObject({ targeted: 0, skipped: { no_credentials: 1 } });
      const patched = await admin.patch(`/v1/apps/${later.id}`, { apns: apnsBody('KEYCCCCCC1', keys.c) });
      expect(patched.status).toBe(200);
      expect(patched.body.apns).toMatchObject({ keyId: 'KEYCCCCCC1', hasPrivateKey: true });
      expect(JSON.stringify(patched.body)).not.toContain(keys.c.split('\n')[1]);
      const m = await waitFor(
        async () => {
          const r = await push(later, { userId: user });
          return r.targeted === 1 ? r : undefined;
        },
        { what: 'the campaign service to see the new credentials' },
      );
      expect(await outcomes(later, m.messageId, 1)).toEqual([expect.objectContaining({ deviceId: ios.id, outcome: 'sent' })]);
      expectValidRequest(ios.token, 'KEYCCCCCC1', keys.c);
    });
  });

  it('an app without APNs credentials skips its APNs devices with no_credentials: nothing reaches either simulator, nothing is invalidated', async () => {
    const app = await createApp('no-apns');
    const user = `u-nocred-${Date.now()}`;
    const ios = await device(app, 'apns', user);
    const android = await device(app, 'fcm', user);
    const m = await push(app, { userId: user });
    expect(m).toMatchObject({ targeted: 1, skipped: { no_credentials: 1 } });
    const got = await outcomes(app, m.messageId, 2);
    expect(got.find((o) => o.deviceId === ios.id)).toMatchObject({ outcome: 'skipped', reason: 'no_credentials' });
    expect(got.find((o) => o.deviceId === android.id)).toMatchObject({ outcome: 'sent' });
    const direct = await push(app, { deviceId: ios.id });
    expect(direct).toMatchObject({ targeted: 0, skipped: { no_credentials: 1 } });
    expect(apnsSim.requestsFor(ios.token)).toHaveLength(0);
    expect(fcmSim.requests().filter((r) => JSON.stringify(r.message).includes(ios.token))).toHaveLength(0);
    await registrationCaughtUp();
    expect(await view(app, ios.id)).toMatchObject({ status: 'active', lastStatus: 'unused' });
    expect(await eventsOf(app, ios.id)).not.toContain('TokenInvalidated');
  });

  describe('APNs answers, each with its effect', () => {
    let app: Created;
    beforeAll(async () => {
      app = await createApp('apns-errors', apnsBody('KEYAAAAAA1', keys.a));
    });

    async function scripted(replies: ApnsSimReply[]) {
      const d = await device(app, 'apns');
      apnsSim.script(d.token, replies);
      const m = await push(app, { deviceId: d.id });
      expect(m.targeted).toBe(1);
      const [o] = await outcomes(app, m.messageId, 1);
      return { d, m, o };
    }

    it.each([
      ['400 BadDeviceToken', { status: 400, reason: 'BadDeviceToken' }],
      ['410 Unregistered (timestamp now: after the registration)', { status: 410, reason: 'Unregistered', timestamp: Date.now() + 60_000 }],
    ])('%s → invalidated: TokenInvalidated, never sent again, re-registering is 409', async (_name, reply) => {
      const { d, m, o } = await scripted([reply as ApnsSimReply]);
      expect(o).toMatchObject({ outcome: 'invalidated', reason: (reply as { reason: string }).reason });
      await waitFor(async () => (await view(app, d.id)).status === 'invalid', { what: 'the token to be invalid' });
      expect((await eventsOf(app, d.id)).filter((t) => t === 'TokenInvalidated')).toHaveLength(1);
      expect((await push(app, { deviceId: d.id })).targeted).toBe(0);
      expect(apnsSim.requestsFor(d.token)).toHaveLength(1);
      const again = await api(stack.url, app.writeKey).post('/v1/devices', { deviceId: d.id, token: d.token, provider: 'apns', platform: 'ios' });
      expect([again.status, again.body.error?.code]).toEqual([409, 'token_invalidated']);
      expect(m.messageId).toBeTruthy();
    });

    it('410 Unregistered whose timestamp is before the token was registered → the token stays valid and is sent to again', async () => {
      const d = await device(app, 'apns');
      apnsSim.script(d.token, [{ status: 410, reason: 'Unregistered', timestamp: Date.parse(d.registeredAt) - 60_000 }]);
      const m = await push(app, { deviceId: d.id });
      expect((await outcomes(app, m.messageId, 1))[0]).toMatchObject({ deviceId: d.id, outcome: 'invalidated', reason: 'Unregistered' });
      // The InvalidateToken command delivery sent is on Kafka before the outcome; once the registration service consumed everything, it was decided.
      await registrationCaughtUp();
      const next = await push(app, { deviceId: d.id });
      expect(next.targeted).toBe(1);
      expect((await outcomes(app, next.messageId, 1))[0]).toMatchObject({ outcome: 'sent' });
      expect(await view(app, d.id)).toMatchObject({ status: 'active' });
      expect(await eventsOf(app, d.id)).not.toContain('TokenInvalidated');
      expect(apnsSim.requestsFor(d.token).map((r) => r.status)).toEqual([410, 200]);
      const again = await api(stack.url, app.writeKey).post('/v1/devices', { deviceId: d.id, token: d.token, provider: 'apns', platform: 'ios' });
      expect(again.status).toBe(200);
    });

    it('400 DeviceTokenNotForTopic → bounced: PushBounced, the token is left alone', async () => {
      const { d, o } = await scripted([{ status: 400, reason: 'DeviceTokenNotForTopic' }]);
      expect(o).toMatchObject({ outcome: 'bounced', reason: 'DeviceTokenNotForTopic' });
      await waitFor(async () => (await view(app, d.id)).lastStatus === 'bounced', { what: 'the bounce to be recorded' });
      await registrationCaughtUp();
      expect((await view(app, d.id)).status).toBe('active');
      expect(await eventsOf(app, d.id)).not.toContain('TokenInvalidated');
    });

    it.each([
      ['429 TooManyRequests', [{ status: 429, reason: 'TooManyRequests' }], 2],
      ['503 ServiceUnavailable then 500 InternalServerError', [{ status: 503, reason: 'ServiceUnavailable' }, { status: 500, reason: 'InternalServerError' }], 3],
    ])('%s → retried with back-off, then sent: one outcome for the pair', async (_name, replies, requests) => {
      const { d, m, o } = await scripted(replies as ApnsSimReply[]);
      expect(o).toMatchObject({ outcome: 'sent' });
      expect(apnsSim.requestsFor(d.token).map((r) => r.status)).toEqual([...(replies as { status: number }[]).map((r) => r.status), 200]);
      expect(apnsSim.requestsFor(d.token)).toHaveLength(requests);
      expect((await api(stack.url, app.serverKey).get(`/v1/messages/${m.messageId}`)).body).toHaveLength(1);
    });

    it('503 on every attempt → bounced retries_exhausted after DELIVERY_MAX_ATTEMPTS, token left alone', async () => {
      const { d, o } = await scripted([1, 2, 3].map(() => ({ status: 503, reason: 'ServiceUnavailable' })));
      expect(o).toMatchObject({ outcome: 'bounced', reason: 'retries_exhausted' });
      expect(apnsSim.requestsFor(d.token)).toHaveLength(3);
      await registrationCaughtUp();
      expect(await eventsOf(app, d.id)).not.toContain('TokenInvalidated');
    });
  });

  it('403 credential errors on most of a batch pause the app\'s APNs sends (not its FCM sends) and touch no token; resume lifts it', async () => {
    const app = await createApp('apns-breaker', apnsBody('KEYDDDDDD1', keys.d));
    // The simulator does not trust this key: every request answers 403 InvalidProviderToken.
    const user = `u-breaker-${Date.now()}`;
    const ios = [];
    for (let i = 0; i < 10; i++) ios.push(await device(app, 'apns', user));
    const m = await push(app, { userId: user });
    expect(m.targeted).toBe(10);
    const got = await outcomes(app, m.messageId, 10);
    expect(got.every((o) => o.outcome === 'failed' && /InvalidProviderToken|app_paused/.test(o.reason ?? ''))).toBe(true);
    for (const d of ios) expect(apnsSim.requestsFor(d.token)[0]).toMatchObject({ status: 403, reason: 'InvalidProviderToken' });

    const sentBefore = apnsSim.requests().length;
    const paused = await push(app, { deviceId: ios[0].id });
    expect((await outcomes(app, paused.messageId, 1))[0]).toMatchObject({ outcome: 'failed', reason: 'app_paused:apns_credentials' });
    expect(apnsSim.requests().length).toBe(sentBefore);

    const android = await device(app, 'fcm');
    const fcmPush = await push(app, { deviceId: android.id });
    expect((await outcomes(app, fcmPush.messageId, 1))[0]).toMatchObject({ outcome: 'sent' });

    await registrationCaughtUp();
    for (const d of ios) {
      expect((await view(app, d.id)).status).toBe('active');
      expect(await eventsOf(app, d.id)).not.toContain('TokenInvalidated');
    }

    apnsSim.trustKey({ keyId: 'KEYDDDDDD1', teamId: TEAM, key: keys.d, topics: [BUNDLE] });
    const resumed = await api(stack.url, app.serverKey).post(`/v1/apps/${app.id}/sends/resume`, {});
    expect(resumed.body).toEqual({ appId: app.id, resumed: true });
    const after = await push(app, { deviceId: ios[0].id });
    expect((await outcomes(app, after.messageId, 1))[0]).toMatchObject({ outcome: 'sent' });
  });
});
