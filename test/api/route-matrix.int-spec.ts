import { deviceIdFromToken } from '@pushledger/lifecycle';
import { SEGMENT_STACK_PARTS, startStack, Stack, TestApp } from '@pushledger/testing';

type Level = 'admin' | 'write' | 'server';
/**
 * lookup: the route reads an existing id (another app's id must answer exactly like a missing one);
 * upsert: the id is created in the caller's app (another app's data must stay untouched); none: no id.
 */
type Cross = 'lookup' | 'upsert' | 'none';

/** The ids a route is called with: app A's real ones, or ones that exist nowhere. */
interface Ids {
  appId: string;
  deviceId: string;
  token: string;
  userId: string;
  registrationId: string;
  messageId: string;
  webhookId: string;
  campaignId: string;
  segmentId: string;
}

interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** `{name}` stands for `ids[name]` (URL-encoded). */
  path: string;
  level: Level;
  cross: Cross;
  body?: (ids: Ids) => unknown;
}

const fill = (path: string, ids: Ids) => path.replace(/\{(\w+)\}/g, (_, k: keyof Ids) => encodeURIComponent(ids[k]));
const shape = (path: string) => path.replace(/\{\w+\}/g, '{}');
const pick = (o: Record<string, unknown>, keys: string[]) => Object.fromEntries(keys.map((k) => [k, o[k]]));

/** Every route of the gateway (public /health, /metrics and /docs aside). */
const ROUTES: Route[] = [
  // apps (admin token)
  { method: 'POST', path: '/v1/apps', level: 'admin', cross: 'none', body: () => ({ name: 'matrix-extra' }) },
  { method: 'GET', path: '/v1/apps/{appId}', level: 'admin', cross: 'none' },
  { method: 'PATCH', path: '/v1/apps/{appId}', level: 'admin', cross: 'none', body: () => ({ settings: { staleAfterDays: 60 } }) },
  { method: 'GET', path: '/v1/apps', level: 'admin', cross: 'none' },
  { method: 'POST', path: '/v1/apps/{appId}/keys', level: 'admin', cross: 'none', body: () => ({ graceSeconds: 0 }) },
  // The admin token, or the app's own server key: to app keys it is a server route.
  { method: 'POST', path: '/v1/apps/{appId}/sends/resume', level: 'server', cross: 'lookup' },
  { method: 'GET', path: '/v1/apps/{appId}/sends', level: 'server', cross: 'lookup' },
  // native devices
  { method: 'POST', path: '/v1/devices', level: 'write', cross: 'upsert', body: (i) => ({ deviceId: i.deviceId, token: `${i.token}-b`, provider: 'fcm', platform: 'web' }) },
  { method: 'GET', path: '/v1/devices/{deviceId}', level: 'server', cross: 'lookup' },
  { method: 'GET', path: '/v1/devices/{deviceId}/events', level: 'server', cross: 'lookup' },
  { method: 'POST', path: '/v1/devices/lookup', level: 'server', cross: 'lookup', body: (i) => ({ token: i.token }) },
  { method: 'GET', path: '/v1/me', level: 'server', cross: 'none' },
  { method: 'POST', path: '/v1/identify', level: 'write', cross: 'lookup', body: (i) => ({ deviceId: i.deviceId, userId: 'intruder' }) },
  { method: 'POST', path: '/v1/identify', level: 'write', cross: 'lookup', body: (i) => ({ token: i.token, userId: 'intruder' }) },
  { method: 'POST', path: '/v1/logout', level: 'write', cross: 'lookup', body: (i) => ({ deviceId: i.deviceId }) },
  { method: 'POST', path: '/v1/logout', level: 'write', cross: 'lookup', body: (i) => ({ token: i.token }) },
  // native users
  { method: 'GET', path: '/v1/users/{userId}', level: 'server', cross: 'lookup' },
  { method: 'GET', path: '/v1/users/{userId}/devices', level: 'server', cross: 'lookup' },
  { method: 'GET', path: '/v1/users/{userId}/export', level: 'server', cross: 'lookup' },
  { method: 'PATCH', path: '/v1/users/{userId}', level: 'server', cross: 'upsert', body: () => ({ traits: { intruder: true }, unsubscribed: true, topics: { intruder: false } }) },
  { method: 'DELETE', path: '/v1/users/{userId}', level: 'server', cross: 'upsert' },
  // messages
  { method: 'POST', path: '/v1/push', level: 'server', cross: 'none', body: (i) => ({ to: { userId: i.userId }, notification: { title: 't', body: 'b' } }) },
  { method: 'GET', path: '/v1/messages/{messageId}', level: 'server', cross: 'lookup' },
  { method: 'GET', path: '/v1/messages/{messageId}/stats', level: 'server', cross: 'lookup' },
  { method: 'POST', path: '/v1/messages/{messageId}/receipts', level: 'write', cross: 'lookup', body: (i) => ({ deviceId: i.deviceId, kind: 'opened' }) },
  // campaigns (sending is answered by the campaign service, not run here: key checks only)
  { method: 'POST', path: '/v1/campaigns', level: 'server', cross: 'none', body: () => ({ name: 'c', kind: 'broadcast', content: { title: 't', body: 'b' } }) },
  { method: 'POST', path: '/v1/campaigns/{campaignId}/send', level: 'server', cross: 'none', body: () => ({}) },
  { method: 'GET', path: '/v1/campaigns/{campaignId}', level: 'server', cross: 'lookup' },
  { method: 'GET', path: '/v1/campaigns', level: 'server', cross: 'none' },
  { method: 'POST', path: '/v1/campaigns/preview', level: 'server', cross: 'lookup', body: (i) => ({ content: { title: 'Hi {{user.traits.plan}}' }, userId: i.userId }) },
  { method: 'POST', path: '/v1/campaigns/{campaignId}/sends/{messageId}/cancel', level: 'server', cross: 'lookup', body: () => ({}) },
  // webhooks (owned by the delivery service, not run here: key checks only; their tenancy is in webhooks.int-spec)
  { method: 'POST', path: '/v1/webhooks', level: 'server', cross: 'none', body: () => ({ url: 'https://example.com/hook', events: ['*'] }) },
  { method: 'GET', path: '/v1/webhooks', level: 'server', cross: 'none' },
  { method: 'DELETE', path: '/v1/webhooks/{webhookId}', level: 'server', cross: 'none' },
  // segments and stats
  { method: 'POST', path: '/v1/segments', level: 'server', cross: 'none', body: () => ({ name: 's', rules: { trait: 'plan', op: 'eq', value: 'gold' } }) },
  { method: 'GET', path: '/v1/segments', level: 'server', cross: 'none' },
  { method: 'POST', path: '/v1/segments/preview', level: 'server', cross: 'lookup', body: (i) => ({ segmentId: i.segmentId }) },
  { method: 'PUT', path: '/v1/segments/{segmentId}', level: 'server', cross: 'lookup', body: () => ({ name: 'intruder', rules: { eligibleDevice: true } }) },
  { method: 'GET', path: '/v1/segments/{segmentId}', level: 'server', cross: 'lookup' },
  { method: 'GET', path: '/v1/stats/devices', level: 'server', cross: 'none' },
  { method: 'GET', path: '/v1/stats/devices/daily', level: 'server', cross: 'none' },
  { method: 'GET', path: '/v1/stats/pushes/daily', level: 'server', cross: 'none' },
  // Segment
  { method: 'POST', path: '/v1/track', level: 'write', cross: 'none', body: (i) => ({ userId: i.userId, event: 'Opened' }) },
  { method: 'POST', path: '/v1/batch', level: 'write', cross: 'none', body: (i) => ({ batch: [{ type: 'track', userId: i.userId, event: 'Opened' }] }) },
  { method: 'POST', path: '/v1/identify', level: 'write', cross: 'none', body: (i) => ({ userId: i.userId, traits: { segment: true } }) },
  // Twilio
  { method: 'POST', path: '/v1/PushNotifications/DeviceRegistrations', level: 'write', cross: 'none', body: (i) => ({ userId: i.userId, token: `${i.token}-twilio`, appName: 'matrix-b', provider: 'FCM' }) },
  { method: 'GET', path: '/v1/PushNotifications/DeviceRegistrations/{registrationId}', level: 'server', cross: 'lookup' },
  { method: 'DELETE', path: '/v1/PushNotifications/DeviceRegistrations/{registrationId}', level: 'server', cross: 'lookup' },
  { method: 'POST', path: '/v1/PushNotifications', level: 'server', cross: 'none', body: (i) => ({ to: [{ userId: i.userId }], content: { title: 't', body: 'b' } }) },
  // Masivo
  { method: 'PATCH', path: '/v1/customers/{userId}/device-token', level: 'write', cross: 'upsert', body: (i) => ({ device_token: i.token, device_info: { platform: 'web' } }) },
  // Customer.io
  { method: 'PUT', path: '/api/v1/customers/{userId}', level: 'write', cross: 'upsert', body: () => ({ intruder: true, unsubscribed: true, cio_subscription_preferences: { topics: { topic_1: false } } }) },
  { method: 'PUT', path: '/api/v1/customers/{userId}/devices', level: 'write', cross: 'upsert', body: (i) => ({ device: { id: i.token, platform: 'android' } }) },
  { method: 'DELETE', path: '/api/v1/customers/{userId}/devices/{token}', level: 'write', cross: 'lookup' },
];

const label = (r: Route) => `${r.method} ${r.path}${r.body && r.method === 'POST' && /identify|logout/.test(r.path) ? ` (${Object.keys(r.body({ deviceId: 'x', token: 'x' } as Ids) as object).join(', ')})` : ''}`;

describe('route matrix: keys, rights and app isolation on every route', () => {
  let stack: Stack;
  let a: TestApp;
  let b: TestApp;
  let idsA: Ids;
  let missing: Ids;
  /** App A as it was before app B tried anything. */
  let initialA: Awaited<ReturnType<typeof snapshotA>>;

  async function call(route: Route, ids: Ids, headers: Record<string, string>) {
    const body = route.body?.(ids);
    const res = await fetch(`${stack.url}${fill(route.path, ids)}`, {
      method: route.method,
      headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }
  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
  const expectErrorShape = (body: unknown, code: string) => {
    expect(body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String) }) });
    expect(Object.keys((body as { error: object }).error).every((k) => ['code', 'message', 'details'].includes(k))).toBe(true);
  };
  const snapshotA = async () => {
    const get = async (p: string) => (await call({ method: 'GET', path: p, level: 'server', cross: 'none' }, idsA, bearer(a.serverKey))).body;
    return { device: await get(`/v1/devices/${idsA.deviceId}`), events: await get(`/v1/devices/${idsA.deviceId}/events`), user: pick(await get(`/v1/users/${idsA.userId}`), ['id', 'traits', 'unsubscribed', 'erased']), segment: await get(`/v1/segments/${idsA.segmentId}`) };
  };

  beforeAll(async () => {
    stack = await startStack([...SEGMENT_STACK_PARTS, 'delivery']);
    a = await stack.createApp({}, 'matrix-a');
    b = await stack.createApp({}, 'matrix-b');
    const token = `matrix-${Date.now()}:APA91bMatrixTokenMatrixToken`;
    // App A's device, registered through Twilio so that it also has a registration id.
    const reg = await fetch(`${stack.url}/v1/PushNotifications/DeviceRegistrations`, {
      method: 'POST',
      headers: { ...bearer(a.writeKey), 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'matrix-user', token, appName: 'matrix-a', provider: 'FCM' }),
    });
    expect(reg.status).toBe(201);
    const registrationId = ((await reg.json()) as { id: string }).id;
    const segment = await fetch(`${stack.url}/v1/segments`, {
      method: 'POST',
      headers: { ...bearer(a.serverKey), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'gold', rules: { trait: 'plan', op: 'eq', value: 'gold' } }),
    });
    expect(segment.status).toBe(201);
    const segmentId = ((await segment.json()) as { id: string }).id;
    // App A has no pushes or campaigns: their lookups compare two ids that exist nowhere.
    idsA = { appId: a.id, deviceId: deviceIdFromToken(token), token, userId: 'matrix-user', registrationId, messageId: '01J0MATRIXMESSAGE0000000000', campaignId: 'cmp_matrixmatrixmatrix00', segmentId, webhookId: 'wh_matrixmatrixmatrix00' };
    missing = { appId: 'app_missing', deviceId: 'missing-device', token: 'missing-token-abcdefghijklmnop', userId: 'missing-user', registrationId: 'comms_device_registration_missing-device', messageId: '01J0MISSINGMESSAGE000000000', campaignId: 'cmp_missingmissing000000', segmentId: 'seg_missing000000000000', webhookId: 'wh_missingmissing0000000' };
    // App A's user, written synchronously (its device list follows the device facts asynchronously).
    const user = await fetch(`${stack.url}/v1/users/matrix-user`, { method: 'PATCH', headers: { ...bearer(a.serverKey), 'content-type': 'application/json' }, body: JSON.stringify({ traits: { plan: 'gold' } }) });
    expect(user.status).toBe(200);
    initialA = await snapshotA();
  });
  afterAll(async () => {
    if (process.env.DEBUG_STACK) console.log(stack?.logs());
    await stack?.stop();
  });

  it('lists every route the OpenAPI document shows', async () => {
    const doc = (await (await fetch(`${stack.url}/docs/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${shape(p)}`));
    const listed = new Set(ROUTES.map((r) => `${r.method} ${shape(r.path)}`));
    const unlisted = documented.filter((d) => !['GET /health', 'GET /metrics'].includes(d) && !listed.has(d));
    expect(unlisted).toEqual([]);
  });

  it.each(ROUTES.map((r) => [label(r), r] as const))('%s: no key → 401, unknown key → 401', async (_, route) => {
    const none = await call(route, idsA, {});
    expect(none.status).toBe(401);
    expectErrorShape(none.body, 'unauthorized');
    const unknown = await call(route, idsA, bearer('pls_thisKeyDoesNotExist0000000000000000000000'));
    expect(unknown.status).toBe(401);
    expectErrorShape(unknown.body, 'unauthorized');
    const basicUnknown = await call(route, idsA, { authorization: `Basic ${Buffer.from('plw_nope:').toString('base64')}` });
    expect(basicUnknown.status).toBe(401);
  });

  it.each(ROUTES.filter((r) => r.level === 'server').map((r) => [label(r), r] as const))('%s: a write key → 403', async (_, route) => {
    const res = await call(route, idsA, bearer(a.writeKey));
    expect(res.status).toBe(403);
    expectErrorShape(res.body, 'forbidden');
  });

  it.each(ROUTES.filter((r) => r.level === 'admin').map((r) => [label(r), r] as const))('%s: an app key is not the admin token → 401', async (_, route) => {
    for (const key of [a.writeKey, a.serverKey]) {
      const res = await call(route, idsA, bearer(key));
      expect(res.status).toBe(401);
      expectErrorShape(res.body, 'unauthorized');
    }
  });

  it.each(ROUTES.filter((r) => r.cross === 'lookup').map((r) => [label(r), r] as const))('%s: app B on app A\'s id → 404 exactly like a missing id', async (_, route) => {
    const key = bearer(route.level === 'server' ? b.serverKey : b.writeKey);
    const onA = await call(route, idsA, key);
    const onMissing = await call(route, missing, key);
    expect(onA.status).toBe(404);
    expect(onMissing.status).toBe(404);
    expectErrorShape(onA.body, onA.body.error.code);
    // Messages may name the id asked for; with that id blanked, the two answers are the same.
    const blank = (body: unknown, ids: Ids) => JSON.parse(Object.values(ids).reduce((s, id) => s.split(id).join('<id>'), JSON.stringify(body)));
    expect(blank(onA.body, idsA)).toEqual(blank(onMissing.body, missing));
  });

  it('routes called by app B with app A\'s ids change nothing of app A', async () => {
    expect(initialA.device.userId).toBe('matrix-user');
    // Erasing B's user goes last: the other routes identify devices as that user id.
    const upserts = ROUTES.filter((r) => r.cross === 'upsert').sort((x, y) => Number(x.method === 'DELETE') - Number(y.method === 'DELETE'));
    for (const route of upserts) {
      const res = await call(route, idsA, bearer(route.level === 'server' ? b.serverKey : b.writeKey));
      expect([label(route), res.status < 300]).toEqual([label(route), true]);
    }
    expect(await snapshotA()).toEqual(initialA);
  });
});
