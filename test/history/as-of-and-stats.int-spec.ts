import { api, Stack, TestApp, waitFor } from '@pushledger/testing';
import { startPrivateStack, type PrivateStack } from './private-stack';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** An instant strictly between the previous step's facts and the next step's. */
async function instant(): Promise<string> {
  await pause(5);
  const t = new Date().toISOString();
  await pause(5);
  return t;
}

describe('point-in-time views and device analytics (running stack)', () => {
  let env: PrivateStack;
  let stack: Stack;
  let app: TestApp;
  beforeAll(async () => {
    env = await startPrivateStack();
    stack = env.stack;
    app = await stack.createApp();
  });
  afterAll(async () => {
    if (process.env.DEBUG_STACK) console.log(stack?.logs());
    await env?.stop();
  });

  it('GET /v1/devices/{id}?asOf= and /v1/users/{id}?asOf= rebuild the views at several instants of a lifecycle', async () => {
    const write = api(stack.url, app.writeKey);
    const server = api(stack.url, app.serverKey);
    const token = `asof-token-${Date.now()}-abcdefghijklmnopqrstuvwxyz`;
    const device = { deviceId: 'asof-phone', token, provider: 'fcm', platform: 'android' };

    const beforeAnything = await instant();
    expect((await write.post('/v1/devices', { ...device, appVersion: '1.0.0' })).status).toBe(201);
    const registered = await instant();
    expect((await write.post('/v1/devices', { ...device, appVersion: '2.0.0' })).status).toBe(200);
    const upgraded = await instant();
    expect((await write.post('/v1/identify', { deviceId: 'asof-phone', userId: 'asof-user', traits: { plan: 'gold' } })).status).toBe(200);
    await waitFor(async () => (await server.get('/v1/users/asof-user')).body?.deviceIds?.length === 1, { what: 'membership' });
    const identified = await instant();
    expect((await server.patch('/v1/users/asof-user', { traits: { plan: 'platinum' } })).status).toBe(200);
    const promoted = await instant();
    expect((await write.post('/v1/logout', { deviceId: 'asof-phone' })).status).toBe(200);
    await waitFor(async () => (await server.get('/v1/users/asof-user')).body?.deviceIds?.length === 0, { what: 'unlink' });
    const loggedOut = await instant();

    const deviceAt = async (t: string) => server.get(`/v1/devices/asof-phone?asOf=${encodeURIComponent(t)}`);
    expect((await deviceAt(beforeAnything)).status).toBe(404);
    expect((await deviceAt(registered)).body).toMatchObject({ id: 'asof-phone', appVersion: '1.0.0', userId: null, status: 'active', revision: 1 });
    expect((await deviceAt(upgraded)).body).toMatchObject({ appVersion: '2.0.0', userId: null });
    expect((await deviceAt(identified)).body).toMatchObject({ appVersion: '2.0.0', userId: 'asof-user' });
    expect((await deviceAt(loggedOut)).body).toMatchObject({ userId: null });
    const now = await server.get('/v1/devices/asof-phone');
    expect((await deviceAt(loggedOut)).body).toEqual(now.body);
    expect(JSON.stringify((await deviceAt(identified)).body)).not.toContain(token);

    const userAt = async (t: string) => server.get(`/v1/users/asof-user?asOf=${encodeURIComponent(t)}`);
    expect((await userAt(registered)).status).toBe(404);
    expect((await userAt(identified)).body).toMatchObject({ id: 'asof-user', traits: { plan: 'gold' }, deviceIds: ['asof-phone'] });
    expect((await userAt(promoted)).body).toMatchObject({ traits: { plan: 'platinum' }, deviceIds: ['asof-phone'] });
    expect((await userAt(loggedOut)).body).toMatchObject({ traits: { plan: 'platinum' }, deviceIds: [] });

    for (const bad of ['yesterday', '2025-13-45T00:00:00Z', '', '12345']) {
      const res = await server.get(`/v1/devices/asof-phone?asOf=${encodeURIComponent(bad)}`);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'validation_failed', details: [{ field: 'asOf', reason: expect.any(String) }] });
    }
    expect((await userAt('not-a-time')).status).toBe(400);
    // Another app's key sees nothing, at any time.
    const other = await stack.createApp({}, 'asof-other');
    expect((await api(stack.url, other.serverKey).get(`/v1/devices/asof-phone?asOf=${encodeURIComponent(loggedOut)}`)).status).toBe(404);
  });

  it('GET /v1/stats/devices counts current state; /daily counts tokens per day from the history', async () => {
    const statsApp = await stack.createApp({}, 'stats');
    const write = api(stack.url, statsApp.writeKey);
    const server = api(stack.url, statsApp.serverKey);
    const reg = (i: number, platform: string, provider: string, appVersion?: string) =>
      write.post('/v1/devices', { deviceId: `s-${i}`, token: `stats-token-${i}-${Date.now()}-abcdefghijklmnop`, platform, provider, ...(appVersion ? { appVersion } : {}) });
    for (let i = 0; i < 3; i++) expect((await reg(i, 'android', 'fcm', '1.0.0')).status).toBe(201);
    for (let i = 3; i < 5; i++) expect((await reg(i, 'ios', 'apns', '2.0.0')).status).toBe(201);
    expect((await reg(5, 'web', 'fcm')).status).toBe(201);
    // A new token on an existing device counts as registered too, and the device once.
    expect((await write.post('/v1/devices', { deviceId: 's-0', token: `stats-token-0-new-${Date.now()}-abcdefghijklmnop`, platform: 'android', provider: 'fcm' })).status).toBe(200);

    const stats = await server.get('/v1/stats/devices');
    expect(stats.status).toBe(200);
    expect(stats.body).toMatchObject({
      appId: statsApp.id,
      total: 6,
      byStatus: { active: 6, stale: 0, invalid: 0 },
      byLastStatus: { unused: 6, sent: 0, bounced: 0, suppressed: 0 },
      byPlatform: { android: 3, ios: 2, web: 1 },
      byProvider: { fcm: 4, apns: 2 },
      byAppVersion: { '1.0.0': 3, '2.0.0': 2, unknown: 1 },
    });
    expect((await api(stack.url, statsApp.writeKey).get('/v1/stats/devices')).status).toBe(403);

    const today = new Date().toISOString().slice(0, 10);
    const daily = await server.get(`/v1/stats/devices/daily?from=${today}&to=${today}`);
    expect(daily.status).toBe(200);
    expect(daily.body).toMatchObject({ from: today, to: today, days: [{ date: today, registered: 7, invalidated: 0, expired: 0 }], totals: { registered: 7 } });
    const past = await server.get('/v1/stats/devices/daily?from=2024-01-01&to=2024-01-03');
    expect(past.body.days).toEqual(['2024-01-01', '2024-01-02', '2024-01-03'].map((date) => ({ date, registered: 0, invalidated: 0, expired: 0 })));
    expect((await server.get('/v1/stats/devices/daily?from=2024-02-30&to=2024-03-01')).status).toBe(400);
    expect((await server.get('/v1/stats/devices/daily?from=2024-03-02&to=2024-03-01')).status).toBe(400);
    expect((await server.get('/v1/stats/devices/daily?from=2020-01-01&to=2024-03-01')).status).toBe(400);
  });
});
