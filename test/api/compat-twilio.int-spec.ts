import { FcmSimulator } from '@pushledger/fcm';
import { deviceIdFromToken } from '@pushledger/lifecycle';
import { api, finishedSend, repoRoot, startStack, Stack, TestApp, waitFor } from '@pushledger/testing';
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
    stack = await startStack(['gateway', 'registration', 'identity', 'relay', 'projector', 'campaign', 'delivery'], { FCM_ENDPOINT: sim.url, FCM_CA_FILE: sim.caFile });
    app = await stack.createApp({}, 'test_app');
    // Twilio clients send `-u $ACCOUNT_SID:$AUTH_TOKEN`: here the app id and one of its keys.
    const basic = (key: string) => ({ authorization: `Basic ${Buffer.from(`${app.id}:${key}`).toString('base64')}` });
    const withAuth = (key: string) => {
      const c = api(stack.url);
      return {
        ...c,
        get: (p: string, h?: Record<string, string>) => c.get(p, { ...basic(key), ...h }),
        post: (p: string, b?: unknown, h?: Record<string, string>) => c.post(p, b, { ...basic(key), ...h }),
        delete: (p: string, h?: Record<string, string>) => c.delete(p, { ...basic(key), ...h }),
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

  it('reads and deletes need the server key; DELETE removes the registration: 404, no send reaches it, history kept, and it can register again', async () => {
    // An app of its own, so that its broadcast reaches only the devices of this test.
    const own = await stack.createApp({}, 'delete_app');
    const basic = (key: string) => ({ authorization: `Basic ${Buffer.from(`${own.id}:${key}`).toString('base64')}` });
    const write = api(stack.url);
    const server = api(stack.url, own.serverKey);
    const register = (userId: string, token: string) =>
      write.post('/v1/PushNotifications/DeviceRegistrations', { userId, token, appName: 'delete_app', provider: 'FCM' }, basic(own.writeKey));
    const user = 'comms_user_01k7q2bx0mft5bvbxh3781hkmr';
    const token = `fcm-delete-${Date.now()}:APA91bExampleExampleExample`;
    const keeperToken = `fcm-keep-${Date.now()}:APA91bExampleExampleExample`;
    const deviceId = deviceIdFromToken(token);
    const created = await register(user, token);
    expect(created.status).toBe(201);
    expect((await register('comms_user_keeper', keeperToken)).status).toBe(201);
    const path = `/v1/PushNotifications/DeviceRegistrations/${created.body.id}`;
    expect((await write.get(path, basic(own.writeKey))).status).toBe(403);
    expect((await write.delete(path, basic(own.writeKey))).status).toBe(403);
    await waitFor(async () => (await server.get(`/v1/users/${user}`)).body?.deviceIds?.includes(deviceId), { what: 'the user to list the device' });
    const unknown = await write.get('/v1/PushNotifications/DeviceRegistrations/comms_device_registration_d_doesnotexist', basic(own.serverKey));
    expect(unknown.status).toBe(404);

    const key = { 'idempotency-key': `delete-${Date.now()}` };
    const deleted = await write.delete(path, { ...basic(own.serverKey), ...key });
    expect(deleted.status).toBe(204);
    expect(deleted.body).toBeUndefined();

    // Gone for reads, answered exactly like a registration that never existed.
    const after = await write.get(path, basic(own.serverKey));
    expect([after.status, after.body]).toEqual([404, unknown.body]);
    // Once the read models hold the DELETE (a read waits for the gateway's last write, then falls back to the store), they show the device gone.
    const fromModels = await waitFor(async () => {
      const res = await server.get(`/v1/devices/${deviceId}`);
      return res.headers.get('x-pushledger-read-source') === 'read-model' ? res : undefined;
    }, { what: 'a read served by the read models' });
    expect([fromModels.status, fromModels.body.error.code]).toEqual([404, 'not_found']);
    // Asking for a position the read models cannot reach at once makes the gateway fold the store instead: gone there too.
    const fromStore = await server.get(`/v1/devices/${deviceId}`, { 'x-pushledger-min-position': '999999999999999', prefer: 'wait=0' });
    expect([fromStore.status, fromStore.body.error.code, fromStore.headers.get('x-pushledger-read-source')]).toEqual([404, 'not_found', 'event-store']);

    // The same Idempotency-Key answers the same 204; a new DELETE finds nothing, like for an unknown id.
    expect((await write.delete(path, { ...basic(own.serverKey), ...key })).status).toBe(204);
    const again = await write.delete(path, basic(own.serverKey));
    expect([again.status, again.body]).toEqual([404, unknown.body]);

    // No send reaches it, whatever names it: device, token, user (native and Twilio), right after the DELETE.
    const gonePushes: string[] = [];
    for (const to of [{ deviceId }, { token }, { userId: user }]) {
      const push = await server.post('/v1/push', { to, notification: { title: 'After delete', body: 'x' }, transactional: true });
      expect([to, push.status, push.body.targeted, push.body.skipped]).toEqual([to, 202, 0, {}]);
      gonePushes.push(push.body.messageId);
    }
    const twilioSend = await write.post('/v1/PushNotifications', { to: [{ userId: user }], content: { title: 'After delete', body: 'x' } }, basic(own.serverKey));
    expect(twilioSend.status).toBe(202);
    expect(twilioSend.body.messages).toEqual([{ userId: user, messageId: expect.any(String), targeted: 0, skipped: {} }]);
    gonePushes.push(twilioSend.body.messages[0].messageId);
    for (const messageId of gonePushes) expect((await server.get(`/v1/messages/${messageId}`)).body).toEqual([]);

    // The user no longer has it (the user stream follows the LoggedOut), and a broadcast from the read models reaches only the other device.
    await waitFor(async () => (await server.get(`/v1/users/${user}`)).body?.deviceIds?.length === 0, { what: 'the user to drop the device' });
    expect((await server.get(`/v1/users/${user}/devices`)).body).toEqual([]);
    const campaign = await server.post('/v1/campaigns', { name: 'after-delete', kind: 'broadcast', content: { title: 'Broadcast', body: 'after delete' } });
    expect(campaign.status).toBe(201);
    const broadcast = await server.post(`/v1/campaigns/${campaign.body.id}/send`, {});
    expect(broadcast.status).toBe(202);
    const finished = await finishedSend(server, campaign.body.id, broadcast.body.messageId);
    expect([finished.status, finished.targeted, finished.skipped]).toEqual(['sent', 1, {}]);
    await waitFor(async () => sim.requestsFor(keeperToken).length === 1, { what: 'the broadcast to reach the other device' });

    // Registering the token again makes it a live registration: readable, linked, and reached by a push.
    const back = await register(user, token);
    expect(back.status).toBe(201);
    expect(back.body).toEqual(created.body);
    expect((await write.get(path, basic(own.serverKey))).body).toEqual(created.body);
    expect((await server.get(`/v1/devices/${deviceId}`)).body).toMatchObject({ id: deviceId, userId: user, status: 'active', lastStatus: 'unused' });
    await waitFor(async () => (await server.get(`/v1/users/${user}`)).body?.deviceIds?.includes(deviceId), { what: 'the user to list the device again' });
    const push = await server.post('/v1/push', { to: { userId: user }, notification: { title: 'Welcome back', body: 'x' }, transactional: true });
    expect([push.status, push.body.targeted, push.body.skipped]).toEqual([202, 1, {}]);
    const outcomes = await waitFor(async () => {
      const res = await server.get(`/v1/messages/${push.body.messageId}`);
      return res.status === 200 && res.body.length === 1 ? res.body : undefined;
    }, { what: 'the outcome of the push after re-registering', timeoutMs: 60_000 });
    expect(outcomes).toMatchObject([{ deviceId, outcome: 'sent' }]);
    // FCM saw that push and nothing else for this token: not the four sent after the DELETE, nor the broadcast.
    const received = sim.requestsFor(token);
    expect(received).toHaveLength(1);
    expect(JSON.stringify(received[0])).toContain('Welcome back');

    // The history stays whole, the deletion in it; the token is masked there like everywhere.
    const events = (await server.get(`/v1/devices/${deviceId}/events`)).body as { type: string; data: { reason?: string; token?: string } }[];
    // (PushSent of the last push follows once the delivery service has recorded it.)
    expect(events.map((e) => e.type).slice(0, 6)).toEqual(['TokenRegistered', 'Identified', 'LoggedOut', 'DeviceUnregistered', 'TokenRefreshed', 'Identified']);
    expect(events[2].data.reason).toBe('unregistered');
    expect(events[3].data.token).not.toBe(token);
    expect(events[3].data.token?.startsWith(token.slice(0, 6))).toBe(true);
  });

  it('a device unregistered by a Twilio DELETE and registered again through the native API is new again: 201, then 200', async () => {
    const token = `fcm-native-back-${Date.now()}:APA91bExampleExampleExample`;
    const native = api(stack.url, app.writeKey);
    const body = { token, provider: 'fcm', platform: 'android' };
    expect((await native.post('/v1/devices', body)).status).toBe(201);
    expect((await native.post('/v1/devices', body)).status).toBe(200);
    const id = `comms_device_registration_${deviceIdFromToken(token)}`;
    expect((await server.delete(`/v1/PushNotifications/DeviceRegistrations/${id}`)).status).toBe(204);
    const back = await native.post('/v1/devices', body);
    expect([back.status, back.body.status]).toEqual([201, 'active']);
    expect((await native.post('/v1/devices', body)).status).toBe(200);
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
