import { FcmSimulator } from '@pushledger/fcm';
import { deviceIdFromToken } from '@pushledger/lifecycle';
import { api, repoRoot, startStack, Stack, TestApp, waitFor } from '@pushledger/testing';
import * as path from 'path';

// The token of Twilio's examples (docs: "Device registration and sending to a User").
const SEED_TOKEN = 'odJFCrnl2edlBDdz1C5Ja:APA91bu2RJtBRnlWmTSHf6pWkLUyifDLkDmWJ6UuVTAIjvFu7WICPhDeOZIiBOB-Y6sHrFH2ZUCr-lgotu2iXW7GboIRoL3u6aHwnMztVuaP_coUNEhEkk_iqq8vH2BzNZV45pFCiRcD';
const SEED_USER = 'comms_user_01h9krwprkeee8fzqspvwy6nq8';

describe('Twilio Comms Push API', () => {
  let sim: FcmSimulator;
  let stack: Stack;
  let app: TestApp;
  let twilio: ReturnType<typeof api>;
  let server: ReturnType<typeof api>;
  beforeAll(async () => {
    sim = await FcmSimulator.start({ certDir: path.join(repoRoot, '.data/fcm-sim-test') });
    stack = await startStack(['gateway', 'registration', 'identity', 'relay', 'campaign', 'delivery'], { FCM_ENDPOINT: sim.url, FCM_CA_FILE: sim.caFile });
    app = await stack.createApp({}, 'test_app');
    // Twilio clients send `-u $ACCOUNT_SID:$AUTH_TOKEN`: here the app id and one of its keys.
    const basic = (key: string) => ({ authorization: `Basic ${Buffer.from(`${app.id}:${key}`).toString('base64')}` });
    const withAuth = (key: string) => {
      const c = api(stack.url);
      return {
        ...c,
        get: (p: string) => c.get(p, basic(key)),
        post: (p: string, b?: unknown) => c.post(p, b, basic(key)),
        delete: (p: string) => c.delete(p, basic(key)),
      } as ReturnType<typeof api>;
    };
    twilio = withAuth(app.writeKey);
    server = withAuth(app.serverKey);
  });
  afterAll(async () => {
    if (process.env.DEBUG_STACK) console.log(stack?.logs());
    await stack?.stop();
    await sim?.stop();
  });

  it('registers the seed device for an existing user, answers like Twilio (token masked), and GET shows it', async () => {
    const created = await twilio.post('/v1/PushNotifications/DeviceRegistrations', { userId: SEED_USER, token: SEED_TOKEN, appName: 'test_app', provider: 'FCM' });
    expect(created.status).toBe(201);
    const deviceId = deviceIdFromToken(SEED_TOKEN);
    expect(created.body).toEqual({
      id: `comms_device_registration_${deviceId}`,
      appName: 'test_app',
      userId: SEED_USER,
      devices: [{ provider: 'FCM', token: expect.any(String) }],
      related: [
        { id: SEED_USER, name: 'user', uri: `/Users/${SEED_USER}` },
        { id: 'test_app', name: 'push_notification_app', uri: '/PushNotifications/Apps/test_app' },
      ],
      tags: {},
    });
    expect(created.body.devices[0].token).not.toBe(SEED_TOKEN);
    expect(created.body.devices[0].token.startsWith(SEED_TOKEN.slice(0, 6))).toBe(true);

    const fetched = await server.get(`/v1/PushNotifications/DeviceRegistrations/${created.body.id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body).toEqual(created.body);

    const view = await api(stack.url, app.serverKey).get(`/v1/devices/${deviceId}`);
    expect(view.body).toMatchObject({ id: deviceId, userId: SEED_USER, provider: 'fcm', platform: 'android', status: 'active' });
    const events = (await api(stack.url, app.serverKey).get(`/v1/devices/${deviceId}/events`)).body.map((e: { type: string }) => e.type);
    expect(events).toEqual(['TokenRegistered', 'Identified']);

    // The seed's second request (no userId) for the same token keeps the device's user.
    const again = await twilio.post('/v1/PushNotifications/DeviceRegistrations', { token: SEED_TOKEN, appName: 'test_app', provider: 'FCM' });
    expect(again.status).toBe(201);
    expect(again.body).toEqual(created.body);
  });

  it('creates a comms_user_ when userId is absent; APNs tokens are iOS devices', async () => {
    const token = `apns-${Date.now().toString(16)}0123456789abcdef0123456789abcdef`;
    const res = await twilio.post('/v1/PushNotifications/DeviceRegistrations', { token, appName: 'test_app', provider: 'APNs' });
    expect(res.status).toBe(201);
    expect(res.body.userId).toMatch(/^comms_user_[0-9a-z]{26}$/);
    expect(res.body.devices).toEqual([{ provider: 'APNs', token: expect.any(String) }]);
    const view = await api(stack.url, app.serverKey).get(`/v1/devices/${deviceIdFromToken(token)}`);
    expect(view.body).toMatchObject({ userId: res.body.userId, provider: 'apns', platform: 'ios' });
  });

  it('answers 404 for an app name that is not the calling app, and for unknown registrations', async () => {
    const wrongApp = await twilio.post('/v1/PushNotifications/DeviceRegistrations', { token: SEED_TOKEN, appName: 'other_app', provider: 'FCM' });
    expect(wrongApp.status).toBe(404);
    expect(wrongApp.body.error.code).toBe('not_found');
    for (const id of ['comms_device_registration_d_doesnotexist', 'nope', 'comms_device_registration_']) {
      const res = await server.get(`/v1/PushNotifications/DeviceRegistrations/${id}`);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: { code: 'not_found', message: 'device registration not found' } });
    }
    const badProvider = await twilio.post('/v1/PushNotifications/DeviceRegistrations', { token: SEED_TOKEN, appName: 'test_app', provider: 'GCM' });
    expect(badProvider.status).toBe(400);
    expect(badProvider.body.error.details[0].field).toBe('provider');
  });

  it('reads and deletes need the server key; DELETE disassociates the device (204)', async () => {
    const token = `fcm-delete-${Date.now()}:APA91bExampleExampleExample`;
    const created = await twilio.post('/v1/PushNotifications/DeviceRegistrations', { userId: 'comms_user_01k7q2bx0mft5bvbxh3781hkmr', token, appName: 'test_app', provider: 'FCM' });
    expect(created.status).toBe(201);
    const path = `/v1/PushNotifications/DeviceRegistrations/${created.body.id}`;
    expect((await twilio.get(path)).status).toBe(403);
    expect((await twilio.delete(path)).status).toBe(403);

    const deleted = await server.delete(path);
    expect(deleted.status).toBe(204);
    expect(deleted.body).toBeUndefined();
    const after = await server.get(path);
    expect(after.status).toBe(200);
    expect(after.body.userId).toBeNull();
    expect(after.body.related).toEqual([{ id: 'test_app', name: 'push_notification_app', uri: '/PushNotifications/Apps/test_app' }]);
    const events = (await api(stack.url, app.serverKey).get(`/v1/devices/${deviceIdFromToken(token)}/events`)).body.map((e: { type: string }) => e.type);
    expect(events).toEqual(['TokenRegistered', 'Identified', 'LoggedOut']);
    // Deleting again changes nothing.
    expect((await server.delete(path)).status).toBe(204);
  });

  it('POST /v1/PushNotifications sends the seed payload to each user\'s devices, once per Idempotency-Key', async () => {
    const user = `comms_user_send${Date.now().toString(36)}`;
    const tokens = [`fcm-send-a-${Date.now()}:APA91bExampleExample`, `fcm-send-b-${Date.now()}:APA91bExampleExample`];
    for (const token of tokens) expect((await twilio.post('/v1/PushNotifications/DeviceRegistrations', { userId: user, token, appName: 'test_app', provider: 'FCM' })).status).toBe(201);
    await waitFor(async () => (await server.get(`/v1/users/${user}`)).body?.deviceIds?.length === 2, { what: 'the user to have both devices' });

    const payload = { to: [{ userId: user }, { userId: 'comms_user_nobody' }], content: { title: 'Welcome Back!', body: 'It looks like you have been away for a while. New offers are waiting for you.' } };
    const headers = { 'idempotency-key': `op-${Date.now()}` };
    const send = await api(stack.url).post('/v1/PushNotifications', payload, { ...headers, authorization: `Basic ${Buffer.from(`${app.id}:${app.serverKey}`).toString('base64')}` });
    expect(send.status).toBe(202);
    expect(send.body).toMatchObject({ id: expect.stringMatching(/^comms_operation_[0-9a-f]{32}$/), status: 'accepted' });
    expect(send.body.messages).toEqual([
      { userId: user, messageId: expect.any(String), targeted: 2, skipped: {} },
      { userId: 'comms_user_nobody', messageId: expect.any(String), targeted: 0, skipped: expect.any(Object) },
    ]);
    const messageId = send.body.messages[0].messageId;
    const outcomes = await waitFor(async () => {
      const res = await server.get(`/v1/messages/${messageId}`);
      return res.status === 200 && res.body.length === 2 ? (res.body as { outcome: string }[]) : undefined;
    }, { what: 'two outcomes', timeoutMs: 60_000 });
    expect(outcomes.map((o) => o.outcome)).toEqual(['sent', 'sent']);
    for (const token of tokens) {
      const got = sim.requestsFor(token);
      expect(got).toHaveLength(1);
      expect(JSON.stringify(got[0])).toContain('Welcome Back!');
    }

    // A retry with the same key is the same operation: same ids, nothing sent again.
    const retry = await api(stack.url).post('/v1/PushNotifications', payload, { ...headers, authorization: `Basic ${Buffer.from(`${app.id}:${app.serverKey}`).toString('base64')}` });
    expect(retry.status).toBe(202);
    expect(retry.body.id).toBe(send.body.id);
    expect(retry.body.messages.map((m: { messageId: string }) => m.messageId)).toEqual(send.body.messages.map((m: { messageId: string }) => m.messageId));
    await new Promise((r) => setTimeout(r, 1000));
    for (const token of tokens) expect(sim.requestsFor(token)).toHaveLength(1);
  });

  it('POST /v1/PushNotifications rejects a malformed body field by field, and needs the server key', async () => {
    const invalid = await server.post('/v1/PushNotifications', { to: { userId: SEED_USER }, content: { title: 'x' } });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.code).toBe('validation_failed');
    expect((await twilio.post('/v1/PushNotifications', { to: [{ userId: SEED_USER }], content: { title: 'a', body: 'b' } })).status).toBe(403);
  });
});
