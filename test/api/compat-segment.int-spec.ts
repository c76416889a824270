import { api, openedValue, startStack, Stack, TestApp, testKafka, uniqueName, waitFor } from '@pushledger/testing';

type Event = { type: string; data: Record<string, unknown> };

describe('Segment HTTP Tracking API: Intilery register push', () => {
  let stack: Stack;
  let app: TestApp;
  beforeAll(async () => {
    stack = await startStack();
    app = await stack.createApp();
  });
  afterAll(async () => {
    if (process.env.DEBUG_STACK) console.log(stack?.logs());
    await stack?.stop();
  });

  const events = async (deviceId: string): Promise<Event[]> => {
    const res = await api(stack.url, app.serverKey).get(`/v1/devices/${deviceId}/events`);
    return res.status === 200 ? res.body : [];
  };
  const device = async (deviceId: string) => (await api(stack.url, app.serverKey).get(`/v1/devices/${deviceId}`)).body;

  it('anonymous register push → identify on sign-in → register push with the real userId', async () => {
    // No Authorization header: Intilery sends the write key in the body.
    const anonymous = api(stack.url);
    const deviceId = `fcm-device-${Date.now()}`;
    const fcmToken = `fcm:${deviceId}:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx`;

    const register = await anonymous.post('/v1/track', {
      userId: deviceId,
      event: 'register push',
      type: 'track',
      properties: { deviceId, fcmToken, deviceType: 'Android' },
      writeKey: app.writeKey,
    });
    expect(register.status).toBe(200);
    expect(register.body).toEqual({ success: true });
    const anon = await waitFor(async () => (await events(deviceId)).some((e) => e.type === 'TokenRegistered') && device(deviceId), { what: 'the anonymous registration to be applied' });
    expect(anon).toMatchObject({ id: deviceId, appId: app.id, userId: null, platform: 'android', provider: 'fcm', status: 'active' });
    expect(anon.token).not.toContain(fcmToken);

    // Sign-in: Segment identify (no deviceId/token in the body, so it is not the native identify).
    const identify = await anonymous.post('/v1/identify', { userId: 'cust-42', anonymousId: deviceId, traits: { email: 'ada@example.com', tier: 'gold' }, type: 'identify', writeKey: app.writeKey });
    expect(identify.status).toBe(200);
    expect(identify.body).toEqual({ success: true });
    await waitFor(async () => (await device(deviceId)).userId === 'cust-42', { what: 'the identify to be applied' });

    const signedIn = await anonymous.post('/v1/track', {
      userId: 'cust-42',
      event: 'register push',
      type: 'track',
      properties: { deviceId, fcmToken, deviceType: 'Android' },
      writeKey: app.writeKey,
    });
    expect(signedIn.status).toBe(200);
    // Re-registering the same token for its owner stores nothing new; a later message for the same device
    // (same partition) shows it has been applied.
    const marker = await anonymous.post('/v1/track', { userId: 'cust-42', event: 'register push', type: 'track', properties: { deviceId, fcmToken, deviceType: 'Android' }, context: { app: { version: '2.0.0' } }, writeKey: app.writeKey });
    expect(marker.status).toBe(200);
    await waitFor(async () => (await device(deviceId)).appVersion === '2.0.0', { what: 'the signed-in registration to be applied' });

    const history = await events(deviceId);
    const types = history.map((e) => e.type);
    expect(types[0]).toBe('TokenRegistered');
    expect(types.filter((t) => t === 'Identified')).toHaveLength(1);
    expect(types).not.toContain('LoggedOut');
    expect(history.find((e) => e.type === 'Identified')!.data).toMatchObject({ pii: { userId: 'cust-42' } });
    expect(JSON.stringify(history)).not.toContain(fcmToken);
    expect(await device(deviceId)).toMatchObject({ userId: 'cust-42', status: 'active' });

    const user = await waitFor(async () => {
      const u = await api(stack.url, app.serverKey).get('/v1/users/cust-42');
      return u.status === 200 && u.body.traits.tier === 'gold' && u.body.deviceIds.includes(deviceId) && u.body;
    }, { what: 'traits and membership' });
    expect(user.traits).toEqual({ email: 'ada@example.com', tier: 'gold' });
  });

  it('Basic auth with the write key, /v1/batch, and a duplicate messageId applied once', async () => {
    const basic = api(stack.url);
    const auth = { authorization: `Basic ${Buffer.from(`${app.writeKey}:`).toString('base64')}` };
    const deviceId = `batch-device-${Date.now()}`;
    const token = `tok-${deviceId}-abcdefghijklmnop`;

    const batch = await basic.post(
      '/v1/batch',
      { batch: [{ type: 'track', messageId: `${deviceId}-m0`, userId: deviceId, event: 'register push', properties: { deviceId, fcmToken: token, deviceType: 'iOS' } }, { type: 'page', userId: deviceId, name: 'Home' }], context: { os: { version: '17.2' } } },
      auth,
    );
    expect(batch.status).toBe(200);
    expect(batch.body).toEqual({ success: true });
    const identify = { type: 'identify', messageId: `${deviceId}-m1`, userId: 'first-user', anonymousId: deviceId };
    expect((await basic.post('/v1/batch', { batch: [identify] }, auth)).status).toBe(200);
    await waitFor(async () => (await device(deviceId))?.userId === 'first-user', { what: 'the identify to be applied' });

    // The device moves on; then the first identify is delivered again: it must not move the device back.
    expect((await api(stack.url, app.writeKey).post('/v1/identify', { deviceId, userId: 'second-user' })).status).toBe(200);
    expect((await basic.post('/v1/identify', identify, auth)).status).toBe(200);
    // A later message for the same device (same partition): once it is applied, the repeat has been handled.
    const marker = await basic.post('/v1/track', { messageId: `${deviceId}-m2`, userId: 'second-user', event: 'register push', properties: { deviceId, fcmToken: token, deviceType: 'iOS' }, context: { app: { version: '9.0.0' } } }, auth);
    expect(marker.status).toBe(200);
    await waitFor(async () => (await device(deviceId))?.appVersion === '9.0.0', { what: 'the marker message to be applied' });

    expect(await device(deviceId)).toMatchObject({ userId: 'second-user', platform: 'ios', osVersion: '17.2' });
    const history = await events(deviceId);
    expect(history.filter((e) => e.type === 'Identified')).toHaveLength(2);
    expect(history.filter((e) => e.type === 'TokenRegistered')).toHaveLength(1);
  });

  it('validates every message before queueing: 400 naming the field, batch[i] for batches', async () => {
    const write = api(stack.url, app.writeKey);
    const missingToken = await write.post('/v1/track', { userId: 'u1', event: 'register push', properties: { deviceId: 'd1', deviceType: 'Android' } });
    expect(missingToken.status).toBe(400);
    expect(missingToken.body.error).toMatchObject({ code: 'validation_failed', details: [{ field: 'properties.fcmToken' }] });

    const badType = await write.post('/v1/track', { userId: 'u1', event: 'register push', properties: { deviceId: 'd1', fcmToken: 'tok-abcdefghijklmnop', deviceType: 'Symbian' } });
    expect(badType.status).toBe(400);
    expect(badType.body.error.details[0].field).toBe('properties.deviceType');

    const noUser = await write.post('/v1/identify', { traits: { a: 1 } });
    expect(noUser.status).toBe(400);
    expect(noUser.body.error.details[0].field).toBe('userId');

    const deviceId = `never-${Date.now()}`;
    const batch = await write.post('/v1/batch', {
      batch: [
        { type: 'track', userId: deviceId, event: 'register push', properties: { deviceId, fcmToken: `tok-${deviceId}-abcdefghijk`, deviceType: 'Web' } },
        { type: 'track', userId: deviceId, event: 'register push', properties: { deviceId, deviceType: 'Web' } },
      ],
    });
    expect(batch.status).toBe(400);
    expect(batch.body.error.details[0].field).toBe('batch[1].properties.fcmToken');

    const notArray = await write.post('/v1/batch', { batch: { type: 'track' } });
    expect(notArray.status).toBe(400);
    expect(notArray.body.error.details[0].field).toBe('batch');

    const tooMany = await write.post('/v1/batch', { batch: Array.from({ length: 501 }, () => ({})) });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.details[0].field).toBe('batch');

    // A later valid message for the same device is applied; the rejected batch left nothing.
    const ok = await write.post('/v1/track', { userId: 'after', event: 'register push', properties: { deviceId: `${deviceId}-ok`, fcmToken: `tok-ok-${deviceId}-abcdefghijk`, deviceType: 'Web' } });
    expect(ok.status).toBe(200);
    await waitFor(async () => (await device(`${deviceId}-ok`))?.userId === 'after', { what: 'the valid message' });
    expect((await api(stack.url, app.serverKey).get(`/v1/devices/${deviceId}`)).status).toBe(404);
  });

  it("stores messages on the gateway's ingest topic keyed by device, with the app-id header and without the write key", async () => {
    const deviceId = `kafka-${Date.now()}`;
    const res = await api(stack.url).post('/v1/track', { userId: deviceId, event: 'register push', type: 'track', messageId: `${deviceId}-m`, properties: { deviceId, fcmToken: `tok-${deviceId}-abcdefghijklmnop`, deviceType: 'Android' }, writeKey: app.writeKey });
    expect(res.status).toBe(200);

    const consumer = testKafka().consumer({ groupId: uniqueName('compat-segment-probe') });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: `pushledger.gateway-ingest.v1.${stack.suffix}`, fromBeginning: true });
      const found = new Promise<{ key: string | null; value: string; raw: string; appId: string | null }>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message }) => {
            const raw = message.value?.toString('utf8') ?? '';
            // Sealed as it travels: opened with the stack's secret key.
            const value = JSON.stringify(openedValue(stack.env, raw));
            if (value.includes(`${deviceId}-m`)) resolve({ key: message.key?.toString() ?? null, value, raw, appId: message.headers?.['app-id']?.toString() ?? null });
          },
        });
      });
      let timer: NodeJS.Timeout | undefined;
      const msg = await Promise.race([found, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("message not found on the gateway's ingest topic")), 60000)))]).finally(() => clearTimeout(timer));
      expect(msg.key).toBe(deviceId);
      expect(msg.appId).toBe(app.id);
      expect(msg.value).not.toContain(app.writeKey);
      expect(JSON.parse(msg.value)).not.toHaveProperty('writeKey');
      expect(msg.raw).not.toContain(`${deviceId}-m`);
      expect(msg.raw).not.toContain('fcmToken');
    } finally {
      await consumer.disconnect();
    }
  });
});
