import { createHmac } from 'crypto';
import { deviceIdFromToken } from '@pushledger/lifecycle';
import mongoose from 'mongoose';
import { api, startStack, Stack, TestApp, testConfig } from '@pushledger/testing';

describe('Idempotency-Key on native writes', () => {
  let stack: Stack;
  let app: TestApp;
  let write: ReturnType<typeof api>;
  let server: ReturnType<typeof api>;
  beforeAll(async () => {
    stack = await startStack();
    app = await stack.createApp({}, 'idempotency');
    write = api(stack.url, app.writeKey);
    server = api(stack.url, app.serverKey);
  });
  afterAll(async () => {
    if (process.env.DEBUG_STACK) console.log(stack?.logs());
    await stack?.stop();
  });

  const key = (name: string) => ({ 'idempotency-key': `${name}-${Date.now()}` });
  const events = async (deviceId: string) => (await server.get(`/v1/devices/${deviceId}/events`)).body as { type: string }[];
  const device = (deviceId: string, token: string) => ({ deviceId, token, provider: 'fcm', platform: 'android', model: 'Pixel 8' });

  it('POST /v1/devices: a retry returns the first answer and stores nothing; another body with the key is 422', async () => {
    const k = key('register');
    const body = device(`idem-dev-${Date.now()}`, `idem-token-${Date.now()}-abcdefghijklmnop`);
    const first = await write.post('/v1/devices', body, k);
    expect(first.status).toBe(201);
    const stored = await events(body.deviceId);

    const retry = await write.post('/v1/devices', body, k);
    expect(retry.status).toBe(201);
    expect(retry.body).toEqual(first.body);
    expect(await events(body.deviceId)).toEqual(stored);

    const reused = await write.post('/v1/devices', { ...body, model: 'Pixel 9' }, k);
    expect(reused.status).toBe(422);
    expect(reused.body).toEqual({ error: { code: 'idempotency_key_reused', message: expect.any(String) } });
    expect(await events(body.deviceId)).toEqual(stored);
  });

  it('POST /v1/identify and /v1/logout: a late retry does not undo what happened since', async () => {
    const deviceId = `idem-id-${Date.now()}`;
    expect((await write.post('/v1/devices', device(deviceId, `idem-id-token-${Date.now()}-abcdefghijk`))).status).toBe(201);

    const kIdentify = key('identify');
    const toAlice = await write.post('/v1/identify', { deviceId, userId: 'alice' }, kIdentify);
    expect(toAlice.status).toBe(200);
    expect(toAlice.body.userId).toBe('alice');
    expect((await write.post('/v1/identify', { deviceId, userId: 'bob' })).body.userId).toBe('bob');
    const afterBob = await events(deviceId);

    const retried = await write.post('/v1/identify', { deviceId, userId: 'alice' }, kIdentify);
    expect(retried.status).toBe(200);
    expect(retried.body).toEqual(toAlice.body);
    expect(await events(deviceId)).toEqual(afterBob);
    expect((await server.get(`/v1/devices/${deviceId}`)).body.userId).toBe('bob');

    const kLogout = key('logout');
    const out = await write.post('/v1/logout', { deviceId }, kLogout);
    expect(out.status).toBe(200);
    expect(out.body.userId).toBeNull();
    expect((await write.post('/v1/identify', { deviceId, userId: 'carol' })).status).toBe(200);
    const afterCarol = await events(deviceId);
    const outAgain = await write.post('/v1/logout', { deviceId }, kLogout);
    expect(outAgain.body).toEqual(out.body);
    expect(await events(deviceId)).toEqual(afterCarol);
    expect((await server.get(`/v1/devices/${deviceId}`)).body.userId).toBe('carol');

    expect((await write.post('/v1/logout', { deviceId: `${deviceId}-other` }, kLogout)).status).toBe(422);
  });

  it('PATCH and DELETE /v1/users/{id}: retries return the first answer', async () => {
    const userId = `idem-user-${Date.now()}`;
    const k = key('traits');
    const first = await server.patch(`/v1/users/${userId}`, { traits: { plan: 'gold' } }, k);
    expect(first.status).toBe(200);
    expect((await server.patch(`/v1/users/${userId}`, { traits: { plan: 'silver' } })).status).toBe(200);
    const retry = await server.patch(`/v1/users/${userId}`, { traits: { plan: 'gold' } }, k);
    expect(retry.body).toEqual(first.body);
    expect((await server.get(`/v1/users/${userId}`)).body.traits).toEqual({ plan: 'silver' });
    expect((await server.patch(`/v1/users/${userId}`, { traits: { plan: 'bronze' } }, k)).status).toBe(422);

    const kErase = key('erase');
    const erased = await server.delete(`/v1/users/${userId}`, kErase);
    expect(erased.status).toBe(200);
    const again = await server.delete(`/v1/users/${userId}`, kErase);
    expect(again).toMatchObject({ status: 200, body: erased.body });
    expect((await server.delete(`/v1/users/${userId}-2`, kErase)).status).toBe(422);
  });

  it('two concurrent requests with one key store the facts once', async () => {
    const k = key('race');
    const body = device(`idem-race-${Date.now()}`, `idem-race-token-${Date.now()}-abcdefghijk`);
    const answers = await Promise.all([write.post('/v1/devices', body, k), write.post('/v1/devices', body, k)]);
    for (const a of answers) expect(a.status).toBe(201);
    expect((await events(body.deviceId)).map((e) => e.type)).toEqual(['TokenRegistered']);
  });

  it('compatible routes take the key too; a bad key is a 400', async () => {
    const token = `idem-twilio-${Date.now()}:APA91bIdempotencyIdempotency`;
    const k = key('twilio');
    const body = { token, appName: 'idempotency', provider: 'FCM' };
    const first = await write.post('/v1/PushNotifications/DeviceRegistrations', body, k);
    expect(first.status).toBe(201);
    // The retry answers exactly as the first request did.
    const retry = await write.post('/v1/PushNotifications/DeviceRegistrations', body, k);
    expect(retry).toMatchObject({ status: 201, body: first.body });
    expect((await events(deviceIdFromToken(token))).map((e) => e.type)).toEqual(['TokenRegistered', 'Identified']);

    const tooLong = await write.post('/v1/devices', device('idem-long', 'idem-long-token-abcdefghijklmnop'), { 'idempotency-key': 'k'.repeat(256) });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error).toMatchObject({ code: 'validation_failed', details: [{ field: 'Idempotency-Key' }] });
  });
  it('the first answer is stored sealed, and a key older than the retention is forgotten', async () => {
    const k = key('sealed');
    const traits = { favourite_colour: `teal-${Date.now()}` };
    const first = await server.patch('/v1/users/idem-sealed', { traits }, k);
    expect(first.status).toBe(200);
    const mongo = await mongoose.createConnection(stack.env.MONGODB_URI).asPromise();
    try {
      const records = mongo.collection('gateway_idempotency');
      // Stored under a keyed hash of the key: a client may put a user id in it.
      expect(await records.countDocuments({ _id: `${app.id}:${k['idempotency-key']}` as never })).toBe(0);
      const secret = testConfig({ PUSHLEDGER_SECRET_KEY: stack.env.PUSHLEDGER_SECRET_KEY }).secretKey!.key;
      const [stored] = await records.find({ _id: `${app.id}:${createHmac('sha256', secret).update(k['idempotency-key']).digest('base64url')}` as never }).toArray();
      expect(stored).toMatchObject({ sealedBody: expect.stringMatching(/^v1\./) });
      expect(stored.body).toBeUndefined();
      expect(JSON.stringify(stored)).not.toContain(traits.favourite_colour);
      expect((await server.patch('/v1/users/idem-sealed', { traits }, k)).body).toEqual(first.body);
      // A day and a minute later (IDEMPOTENCY_RETENTION_HOURS = 24): the key is free again, another body is accepted.
      await records.updateOne({ _id: stored._id }, { $set: { createdAt: new Date(Date.now() - 24 * 3_600_000 - 60_000) } });
      const later = await server.patch('/v1/users/idem-sealed', { traits: { favourite_colour: 'red' } }, k);
      expect(later.status).toBe(200);
      expect(later.body.traits).toMatchObject({ favourite_colour: 'red' });
    } finally {
      await mongo.close();
    }
  });
});
