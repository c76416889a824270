import { StreamExecutor } from '@pushledger/lifecycle';
import { DeviceFlows } from '../../services/registration/src/application/device-flows';
import { UserFlows } from '../../services/identity/src/application/user-flows';
import { createPrivateEventStore, type PrivacyEventStore } from '@pushledger/privacy';
import { lastProjectedPosition } from '@pushledger/read-models';
import { api, startStack, Stack, TestApp, testConfig, waitFor } from '@pushledger/testing';
import { presentDevice, presentUser } from '../../services/gateway/src/edge/present';

const POSITION = 'x-pushledger-position';
const SOURCE = 'x-pushledger-read-source';
const MIN_POSITION = 'X-Pushledger-Min-Position';

const tok = (name: string) => `ryw-${name}-${Date.now()}-abcdefghijklmnopqrstuvwxyz`;

describe('gateway reads from the read models, with read-your-writes', () => {
  let stack: Stack;
  let app: TestApp;
  let store: PrivacyEventStore;
  let devices: DeviceFlows;
  let users: UserFlows;

  beforeAll(async () => {
    // A long wait bound, so the waiting read below does not depend on how fast the projector restarts.
    stack = await startStack(undefined, { READ_MODEL_MAX_WAIT_MS: '90000' });
    app = await stack.createApp();
    store = await createPrivateEventStore(testConfig({ POSTGRES_URL: stack.env.POSTGRES_URL }), { poolSize: 2 });
    const exec = new StreamExecutor(store);
    devices = new DeviceFlows(exec);
    users = new UserFlows(exec);
  });
  afterAll(async () => {
    if (process.env.DEBUG_STACK) console.log(stack?.logs());
    await store?.close().catch(() => undefined);
    await stack?.stop();
  });

  it('a write answers its store position; a GET right after it shows the write, from the read models', async () => {
    const write = api(stack.url, app.writeKey);
    const server = api(stack.url, app.serverKey);
    const token = tok('a');

    const reg = await write.post('/v1/devices', { deviceId: 'ryw-1', token, provider: 'fcm', platform: 'android', appVersion: '1.0.0' });
    expect(reg.status).toBe(201);
    const p1 = reg.headers.get(POSITION);
    expect(p1).toMatch(/^\d+$/);
    const got = await server.get('/v1/devices/ryw-1');
    expect(got.status).toBe(200);
    expect(got.headers.get(SOURCE)).toBe('read-model');
    expect(got.body).toEqual(reg.body);

    const updated = await write.post('/v1/devices', { deviceId: 'ryw-1', token, provider: 'fcm', platform: 'android', appVersion: '1.1.0' });
    expect(updated.status).toBe(200);
    expect(BigInt(updated.headers.get(POSITION)!)).toBeGreaterThan(BigInt(p1!));
    const after = await server.get('/v1/devices/ryw-1');
    expect(after.headers.get(SOURCE)).toBe('read-model');
    expect(after.body).toEqual(updated.body);
    expect(after.body.appVersion).toBe('1.1.0');

    const patched = await server.patch('/v1/users/ryw-amy', { traits: { plan: 'pro' } }, { 'idempotency-key': 'ryw-patch-1' });
    expect(patched.status).toBe(200);
    const userPosition = patched.headers.get(POSITION);
    expect(userPosition).toMatch(/^\d+$/);
    const amy = await server.get('/v1/users/ryw-amy');
    expect(amy.status).toBe(200);
    expect(amy.headers.get(SOURCE)).toBe('read-model');
    expect(amy.body).toEqual(patched.body);

    // A retry with the same key gets the first answer and the same position.
    const retried = await server.patch('/v1/users/ryw-amy', { traits: { plan: 'pro' } }, { 'idempotency-key': 'ryw-patch-1' });
    expect(retried.headers.get(POSITION)).toBe(userPosition);

    // A read that asks for nothing in particular does not wait, and reads carry no write position.
    expect(got.headers.get(POSITION)).toBeNull();
    expect((await server.get('/v1/devices/ryw-1?minPosition=abc')).status).toBe(400);

    const metrics = await (await fetch(`${stack.url}/metrics`)).text();
    expect(metrics).toMatch(/pushledger_gateway_reads_total\{[^}]*source="read-model"[^}]*\} [3-9]/);
    expect(metrics).not.toMatch(/source="event-store/);
  });

  it('a GET asking for a position the projector has not reached waits for it, then answers from the read models', async () => {
    const write = api(stack.url, app.writeKey);
    const server = api(stack.url, app.serverKey);
    await stack.procs.get('projector')!.stop();

    const reg = await write.post('/v1/devices', { deviceId: 'ryw-2', token: tok('b'), provider: 'fcm', platform: 'ios' });
    expect(reg.status).toBe(201);
    const position = reg.headers.get(POSITION)!;

    // Told not to wait, the read folds the store: still the caller's write, and it says where it came from.
    const now = await server.get('/v1/devices/ryw-2', { prefer: 'wait=0' });
    expect(now.status).toBe(200);
    expect(now.headers.get(SOURCE)).toBe('event-store');
    expect(now.body).toEqual(reg.body);

    let settled = false;
    const waiting = server.get(`/v1/devices/ryw-2`, { [MIN_POSITION]: position }).finally(() => (settled = true));
    // Other reads are answered meanwhile; the waiting one cannot be, with the projector down.
    expect((await server.get('/v1/devices/ryw-1', { prefer: 'wait=0' })).status).toBe(200);
    expect(settled).toBe(false);

    await stack.restart('projector');
    const answer = await waiting;
    expect(answer.status).toBe(200);
    expect(answer.headers.get(SOURCE)).toBe('read-model');
    expect(answer.body).toEqual(reg.body);
  });

  it('devices and users served from the read models equal the fold of their streams over a scripted lifecycle', async () => {
    const write = api(stack.url, app.writeKey);
    const server = api(stack.url, app.serverKey);
    const tokens = { a: tok('la'), b: tok('lb'), c: tok('lc'), d: tok('ld') };
    const ok = (r: { status: number; body: unknown }) => expect([200, 201]).toContain(r.status);

    ok(await write.post('/v1/devices', { deviceId: 'lc-a', token: tokens.a, provider: 'fcm', platform: 'android', model: 'Pixel', osVersion: '14', locale: 'en-GB', userId: 'lc-ann' }));
    ok(await write.post('/v1/devices', { deviceId: 'lc-b', token: tokens.b, provider: 'fcm', platform: 'ios', appVersion: '3.0.0' }));
    ok(await write.post('/v1/identify', { deviceId: 'lc-b', userId: 'lc-ann', traits: { plan: 'gold', nested: { 'a.b': 1 } } }));
    ok(await write.post('/v1/devices', { deviceId: 'lc-c', token: tokens.c, provider: 'fcm', platform: 'android', userId: 'lc-ben' }));
    ok(await write.post('/v1/devices', { deviceId: 'lc-d', token: tokens.d, provider: 'fcm', platform: 'web', pushEnabled: false, userId: 'lc-ben' }));
    ok(await server.patch('/v1/users/lc-ben', { traits: { plan: 'free' }, unsubscribed: true }));
    // Identified, then logged out: anonymous again.
    ok(await write.post('/v1/logout', { deviceId: 'lc-a' }));
    // The token moves to another device: lc-c is left invalid.
    ok(await write.post('/v1/devices', { deviceId: 'lc-e', token: tokens.c, provider: 'fcm', platform: 'android', userId: 'lc-cat' }));
    ok(await server.patch('/v1/users/lc-cat', { traits: { city: 'Lyon' } }));
    // Erased: traits, id and device links forgotten.
    ok(await server.patch('/v1/users/lc-dan', { traits: { email: 'dan@example.com' } }));
    ok(await write.post('/v1/identify', { deviceId: 'lc-d', userId: 'lc-dan' }));
    await waitFor(async () => (await users.view(app.id, 'lc-dan'))?.deviceIds.includes('lc-d') ?? false, { what: 'lc-d to be linked to lc-dan', timeoutMs: 30000 });
    ok(await server.delete('/v1/users/lc-dan'));

    const deviceIds = ['lc-a', 'lc-b', 'lc-c', 'lc-d', 'lc-e'];
    const userIds = ['lc-ann', 'lc-ben', 'lc-cat', 'lc-dan'];
    // The identity service links devices to users after the device facts: wait until every user stream lists the devices naming it.
    const linksSettled = async () => {
      const owners = await Promise.all(deviceIds.map(async (d) => (await devices.device(app.id, d))?.userId ?? null));
      const linked = await Promise.all(userIds.map(async (u) => (await users.view(app.id, u))?.deviceIds ?? []));
      return userIds.every((u, i) => JSON.stringify(linked[i]) === JSON.stringify(deviceIds.filter((_, j) => owners[j] === u)));
    };
    await waitFor(linksSettled, { what: 'the user streams to settle', timeoutMs: 60000 });
    const head = (await lastProjectedPosition(store)).toString();
    const fresh = { [MIN_POSITION]: head };

    for (const id of deviceIds) {
      const served = await server.get(`/v1/devices/${id}`, fresh);
      expect({ id, source: served.headers.get(SOURCE), body: served.body }).toEqual({ id, source: 'read-model', body: presentDevice(await devices.view(app.id, id)) });
    }
    for (const id of userIds) {
      const served = await server.get(`/v1/users/${id}`, fresh);
      const folded = await users.view(app.id, id);
      expect({ id, source: served.headers.get(SOURCE), body: served.body }).toEqual({ id, source: 'read-model', body: presentUser(folded!) });
      const list = await server.get(`/v1/users/${id}/devices`, fresh);
      const owned = await Promise.all(folded!.deviceIds.map((d) => devices.device(app.id, d)));
      const expected = owned.filter((d) => d !== null && d.userId === id).map((d) => presentDevice(devices.present(d!)));
      expect({ id, source: list.headers.get(SOURCE), body: list.body }).toEqual({ id, source: 'read-model', body: expected });
    }
    const dan = await server.get('/v1/users/lc-dan', fresh);
    expect(dan.body).toMatchObject({ erased: true, traits: {}, deviceIds: [] });
    expect((await server.get('/v1/devices/lc-d', fresh)).body.userId).toBeNull();
    expect((await server.get('/v1/devices/lc-c', fresh)).body.status).toBe('invalid');
    expect((await server.get('/v1/users/nobody', fresh)).status).toBe(404);
    expect((await server.get('/v1/devices/nothing', fresh)).status).toBe(404);
  }, 240_000);
});
