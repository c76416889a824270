import { api, startStack, Stack, TestApp, waitFor } from '@pushledger/testing';

describe('native API: the Customer.io device lifecycle end to end over HTTP', () => {
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

  it('anonymous register → identify → logout → identify as another user, history in order', async () => {
    const write = api(stack.url, app.writeKey);
    const server = api(stack.url, app.serverKey);
    const token = `cio-token-${Date.now()}-abcdefghijklmnop`;

    const reg = await write.post('/v1/devices', { deviceId: 'phone-1', token, provider: 'fcm', platform: 'android', model: 'Pixel 8', osVersion: '14', appVersion: '2.3.0', locale: 'en-GB', timezone: 'Europe/London' });
    expect(reg.status).toBe(201);
    expect(reg.body).toMatchObject({ id: 'phone-1', appId: app.id, userId: null, platform: 'android', provider: 'fcm', status: 'active', lastStatus: 'unused', model: 'Pixel 8' });
    expect(reg.body.token).not.toContain(token);
    expect(reg.body.token.startsWith(token.slice(0, 6))).toBe(true);

    const again = await write.post('/v1/devices', { deviceId: 'phone-1', token, provider: 'fcm', platform: 'android', model: 'Pixel 8', osVersion: '14', appVersion: '2.3.0', locale: 'en-GB', timezone: 'Europe/London' });
    expect(again.status).toBe(200);

    const idA = await write.post('/v1/identify', { deviceId: 'phone-1', userId: 'alice', traits: { plan: 'gold' } });
    expect(idA.status).toBe(200);
    expect(idA.body.userId).toBe('alice');

    const out = await write.post('/v1/logout', { deviceId: 'phone-1' });
    expect(out.status).toBe(200);
    expect(out.body.userId).toBeNull();

    const idB = await write.post('/v1/identify', { token, userId: 'bob' });
    expect(idB.status).toBe(200);
    expect(idB.body.userId).toBe('bob');

    const view = await server.get('/v1/devices/phone-1');
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ id: 'phone-1', userId: 'bob', status: 'active' });

    const history = await server.get('/v1/devices/phone-1/events');
    expect(history.status).toBe(200);
    const types = history.body.map((e: { type: string }) => e.type);
    expect(types.filter((t: string) => ['TokenRegistered', 'Identified', 'LoggedOut'].includes(t))).toEqual(['TokenRegistered', 'Identified', 'LoggedOut', 'Identified']);
    const positions = history.body.map((e: { position: string }) => BigInt(e.position));
    expect([...positions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(positions);
    expect(JSON.stringify(history.body)).not.toContain(token);

    const alice = await server.get('/v1/users/alice');
    expect(alice.status).toBe(200);
    expect(alice.body.traits).toEqual({ plan: 'gold' });
    // Membership follows the device facts through the lifecycle topic.
    await waitFor(async () => {
      const bob = await server.get('/v1/users/bob/devices');
      const a = await server.get('/v1/users/alice');
      return bob.status === 200 && bob.body.length === 1 && bob.body[0].id === 'phone-1' && a.body.deviceIds.length === 0;
    }, { what: 'membership to follow the device', timeoutMs: 30000 });
  });
});
