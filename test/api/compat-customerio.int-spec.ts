import { randomBytes } from 'crypto';
import { deviceIdFromToken } from '@pushledger/lifecycle';
import { api, startStack, Stack, TestApp } from '@pushledger/testing';

describe('Customer.io Track API devices', () => {
  let stack: Stack;
  let app: TestApp;
  let cio: ReturnType<typeof api>;
  const siteAuth = (siteId: string, apiKey: string) => ({ authorization: `Basic ${Buffer.from(`${siteId}:${apiKey}`).toString('base64')}` });
  beforeAll(async () => {
    stack = await startStack();
    app = await stack.createApp();
    const c = api(stack.url);
    const auth = siteAuth(app.id, app.writeKey);
    cio = { ...c, put: (p: string, b?: unknown) => c.put(p, b, auth), delete: (p: string) => c.delete(p, auth) } as ReturnType<typeof api>;
  });
  afterAll(async () => {
    if (process.env.DEBUG_STACK) console.log(stack?.logs());
    await stack?.stop();
  });

  const history = async (deviceId: string) => ((await api(stack.url, app.serverKey).get(`/v1/devices/${deviceId}/events`)).body as { type: string; data: Record<string, unknown> }[]);
  const view = async (deviceId: string) => (await api(stack.url, app.serverKey).get(`/v1/devices/${deviceId}`)).body;

  it('PUT adds the device to the person (attributes kept), DELETE clears the identify', async () => {
    const token = randomBytes(32).toString('hex');
    const deviceId = deviceIdFromToken(token);
    const put = await cio.put('/api/v1/customers/person-42/devices', {
      device: {
        id: token,
        platform: 'ios',
        last_used: 1700000000,
        attributes: { device_os: '17.2', device_model: 'iPhone15,2', app_version: '2.3.0', device_locale: 'en-GB', push_enabled: 'true', _last_status: '', cio_sdk_version: '3.1.0' },
      },
    });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({});
    expect(await view(deviceId)).toMatchObject({ userId: 'person-42', platform: 'ios', provider: 'apns', osVersion: '17.2', model: 'iPhone15,2', appVersion: '2.3.0', locale: 'en-GB', pushEnabled: true, lastStatus: 'unused', status: 'active' });
    expect((await history(deviceId)).map((e) => e.type)).toEqual(['TokenRegistered', 'Identified']);

    // The person turns notifications off on the phone.
    const off = await cio.put('/api/v1/customers/person-42/devices', { device: { id: token, platform: 'ios', attributes: { push_enabled: 'false' } } });
    expect(off.status).toBe(200);
    expect((await view(deviceId)).pushEnabled).toBe(false);

    // Someone else's id does not log the device out.
    const notTheirs = await cio.delete(`/api/v1/customers/someone-else/devices/${encodeURIComponent(token)}`);
    expect(notTheirs.status).toBe(200);
    expect((await view(deviceId)).userId).toBe('person-42');

    const del = await cio.delete(`/api/v1/customers/person-42/devices/${encodeURIComponent(token)}`);
    expect(del.status).toBe(200);
    expect(del.body).toEqual({});
    expect((await view(deviceId)).userId).toBeNull();
    const types = (await history(deviceId)).map((e) => e.type);
    expect(types).toEqual(['TokenRegistered', 'Identified', 'PushPermissionChanged', 'LoggedOut']);
    expect(JSON.stringify(await history(deviceId))).not.toContain(token);
  });

  it('an android FCM device; 404 for an unknown token; 401 when the site id is not the key\'s app', async () => {
    const token = `cio-android-${Date.now()}:APA91bExampleExampleExampleExample`;
    const put = await cio.put('/api/v1/customers/ada%40example.com/devices', { device: { id: token, platform: 'android' } });
    expect(put.status).toBe(200);
    expect(await view(deviceIdFromToken(token))).toMatchObject({ userId: 'ada@example.com', provider: 'fcm', platform: 'android', pushEnabled: null });

    const unknown = await cio.delete('/api/v1/customers/ada%40example.com/devices/never-registered-token-abcdef');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: { code: 'not_found', message: 'device not found' } });

    const other = await stack.createApp({}, 'other');
    const wrongSite = await api(stack.url).put('/api/v1/customers/x/devices', { device: { id: token, platform: 'android' } }, siteAuth(other.id, app.writeKey));
    expect(wrongSite.status).toBe(401);
    expect(wrongSite.body.error.code).toBe('unauthorized');

    const bad = await cio.put('/api/v1/customers/x/devices', { device: { id: token, platform: 'windows', attributes: { push_enabled: 'maybe' } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d: { field: string }) => d.field)).toEqual(expect.arrayContaining(['device.platform', 'device.attributes.push_enabled']));
  });
});
