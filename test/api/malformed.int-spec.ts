import { startStack, Stack, TestApp } from '@pushledger/testing';

type Auth = 'admin' | 'write' | 'server';

interface WriteRoute {
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  auth: Auth;
  /** Route-specific malformed bodies (wrong types, missing fields, over-long strings, unknown enum values, arrays for objects). */
  cases: Record<string, unknown>;
  /** Without a body (DELETE): only unparseable and oversized bodies apply. */
  noBody?: boolean;
  /** Every field is optional, so a body of unknown keys only is valid there. */
  allOptional?: boolean;
  /** The route's own cases may also be refused with another 4xx than 400 (e.g. 404 for the id in the path). */
  anyClientError?: boolean;
}

/** A body given as JSON text (too deep to build as an object and stringify). */
class Raw {
  constructor(readonly text: string) {}
}
const nested = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
/** `{...rest, "<field>": <object nested 6,000 levels>}`: deeper than validation or serialisation can recurse. */
const deepIn = (rest: Record<string, unknown>, path: string[], levels = 6000) => {
  const marker = '"__DEEP__"';
  let value: unknown = marker;
  for (const key of [...path].reverse()) value = { [key]: value };
  return new Raw(JSON.stringify({ ...rest, ...(value as object) }).replace(JSON.stringify(marker), nested(levels)));
};

const long = (n: number) => 'x'.repeat(n);
const note = { title: 'Hello', body: 'World' };

/** The bodies every route with a body must refuse; raw JSON text. */
const GENERIC: Record<string, string> = {
  'bad JSON': '{"token": ',
  'trailing garbage': '{"a": 1} x',
  'null body': 'null',
  'array body': '[{"token": "abc"}]',
  'string body': '"hello"',
  'number body': '42',
  'deeply nested body': nested(6000),
  'prototype keys': '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}',
};

const ROUTES: WriteRoute[] = [
  {
    method: 'POST',
    path: '/v1/apps',
    auth: 'admin',
    cases: {
      missing: {},
      'name wrong type': { name: 5 },
      'name too long': { name: long(200) },
      'unknown policy': { name: 'a', settings: { devicePolicy: 'newest' } },
      'settings as array': { name: 'a', settings: [] },
      'fcm as string': { name: 'a', fcm: 'proj' },
      'staleAfterDays as string': { name: 'a', settings: { staleAfterDays: '60' } },
      'deep service account': deepIn({ name: 'a' }, ['fcm', 'serviceAccount'], 6000),
    },
  },
  { method: 'PATCH', path: '/v1/apps/{appId}', auth: 'admin', cases: { missing: {}, 'settings as array': { settings: [] }, 'unknown policy': { settings: { devicePolicy: 'x' } }, 'negative rate': { settings: { rateLimitPerSecond: -1 } } } },
  {
    method: 'POST',
    path: '/v1/devices',
    auth: 'write',
    cases: {
      missing: {},
      'token wrong type': { token: 5, provider: 'fcm', platform: 'ios' },
      'token too long': { token: long(5000), provider: 'fcm', platform: 'ios' },
      'unknown provider': { token: 'tok-abcdefghijklmnop', provider: 'gcm', platform: 'ios' },
      'unknown platform': { token: 'tok-abcdefghijklmnop', provider: 'fcm', platform: 'windows' },
      'token as array': { token: ['tok-abcdefghijklmnop'], provider: 'fcm', platform: 'ios' },
      'bad deviceId': { deviceId: 'has spaces', token: 'tok-abcdefghijklmnop', provider: 'fcm', platform: 'ios' },
      'pushEnabled as string': { token: 'tok-abcdefghijklmnop', provider: 'fcm', platform: 'ios', pushEnabled: 'yes' },
      'userId too long': { token: 'tok-abcdefghijklmnop', provider: 'fcm', platform: 'ios', userId: long(300) },
      'model too long': { token: 'tok-abcdefghijklmnop', provider: 'fcm', platform: 'ios', model: long(500) },
    },
  },
  { method: 'POST', path: '/v1/devices/lookup', auth: 'server', cases: { missing: {}, 'token wrong type': { token: 5 }, 'token empty': { token: '' }, 'token too long': { token: long(5000) }, 'token as array': { token: ['tok-abcdefghijklmnop'] } } },
  {
    method: 'POST',
    path: '/v1/identify',
    auth: 'write',
    cases: {
      'native: missing userId': { deviceId: 'd1' },
      'native: deviceId wrong type': { deviceId: 5, userId: 'u' },
      'native: deviceId null': { deviceId: null, userId: 'u' },
      'native: token too long': { token: long(5000), userId: 'u' },
      'native: traits as array': { deviceId: 'd1', userId: 'u', traits: [] },
      'native: traits too deep': deepIn({ deviceId: 'd1', userId: 'u' }, ['traits']),
      'native: traits 40 levels deep': deepIn({ deviceId: 'd1', userId: 'u' }, ['traits'], 40),
      'segment: missing userId': {},
      'segment: userId as object': { userId: {} },
      'segment: userId too long': { userId: long(300) },
      'segment: traits as string': { userId: 'u', traits: 'x' },
      'segment: context as array': { userId: 'u', context: [] },
      'segment: traits too deep': deepIn({ userId: 'u' }, ['traits']),
    },
  },
  { method: 'POST', path: '/v1/logout', auth: 'write', cases: { missing: {}, 'token wrong type': { token: 5 }, 'deviceId as array': { deviceId: ['a'] }, 'token too long': { token: long(5000) } } },
  { method: 'PATCH', path: '/v1/users/{userId}', auth: 'server', cases: { missing: {}, 'traits as array': { traits: [] }, 'unsubscribed as string': { unsubscribed: 'yes' }, 'traits as string': { traits: 'x' }, 'traits too deep': deepIn({}, ['traits']) } },
  { method: 'DELETE', path: '/v1/users/{userId}', auth: 'server', cases: {}, noBody: true },
  {
    method: 'POST',
    path: '/v1/push',
    auth: 'server',
    cases: {
      missing: {},
      'to as array': { to: [], notification: note },
      'title wrong type': { to: { userId: 'u' }, notification: { title: 5, body: 'b' } },
      'title too long': { to: { userId: 'u' }, notification: { title: long(2000), body: 'b' } },
      'two targets': { to: { userId: 'u', deviceId: 'd' }, notification: note },
      'unknown policy': { to: { userId: 'u' }, notification: note, devicePolicy: 'newest' },
      'data not strings': { to: { userId: 'u' }, notification: note, data: { n: 5 } },
      'data too deep': deepIn({ to: { userId: 'u' }, notification: note }, ['data']),
    },
  },
  { method: 'POST', path: '/v1/messages/{messageId}/receipts', auth: 'write', cases: { missing: {}, 'unknown kind': { deviceId: 'd', kind: 'read' }, 'deviceId wrong type': { deviceId: 5, kind: 'opened' }, 'bad time': { deviceId: 'd', kind: 'opened', at: 'yesterday' } } },
  {
    method: 'POST',
    path: '/v1/campaigns',
    auth: 'server',
    cases: {
      missing: {},
      'unknown kind': { name: 'c', kind: 'weekly', content: note },
      'content as array': { name: 'c', kind: 'broadcast', content: [] },
      'name too long': { name: long(300), kind: 'broadcast', content: note },
      'unknown placeholder': { name: 'c', kind: 'broadcast', content: { title: '{{nope}}', body: 'b' } },
    },
  },
  { method: 'POST', path: '/v1/campaigns/{campaignId}/send', auth: 'server', cases: { 'to as array': { to: [] }, 'to as string': { to: 'u' }, 'userId wrong type': { to: { userId: 5 } }, 'properties as array': { properties: [] }, 'two targets': { to: { userId: 'u', token: 't' } }, 'properties too deep': deepIn({}, ['properties']) }, allOptional: true },
  {
    method: 'POST',
    path: '/v1/segments',
    auth: 'server',
    cases: {
      missing: {},
      'name wrong type': { name: 5, rules: { eligibleDevice: true } },
      'rules as array': { rules: [] },
      'rules as string': { rules: 'plan = gold' },
      'unknown operator': { rules: { trait: 'plan', op: 'between', value: 1 } },
      'all not an array': { rules: { all: { trait: 'plan', op: 'eq', value: 'x' } } },
      'name too long': { name: long(300), rules: { eligibleDevice: true } },
      'rules too deep': deepIn({}, ['rules']),
    },
  },
  { method: 'POST', path: '/v1/segments/preview', auth: 'server', cases: { missing: {}, 'bad segmentId': { segmentId: 'not an id!' }, 'unknown device attribute': { rules: { device: 'colour', op: 'eq', value: 'red' } }, 'rules as array': { rules: [] } } },
  { method: 'PUT', path: '/v1/segments/seg_malformed', auth: 'server', anyClientError: true, cases: { missing: {}, 'rules as array': { rules: [] }, 'unknown operator': { rules: { trait: 'plan', op: 'between' } } } },
  {
    method: 'POST',
    path: '/v1/track',
    auth: 'write',
    cases: {
      missing: {},
      'missing event': { userId: 'u' },
      'userId as array': { userId: ['u'], event: 'e' },
      'userId too long': { userId: long(300), event: 'e' },
      'properties as array': { userId: 'u', event: 'register push', properties: [] },
      'token too long': { userId: 'u', event: 'register push', properties: { deviceId: 'd', fcmToken: long(5000), deviceType: 'Android' } },
      'unknown deviceType': { userId: 'u', event: 'register push', properties: { deviceId: 'd', fcmToken: 'tok-abcdefghijklmnop', deviceType: 'Symbian' } },
      'pushEnabled as string': { userId: 'u', event: 'register push', properties: { deviceId: 'd', fcmToken: 'tok-abcdefghijklmnop', deviceType: 'iOS', pushEnabled: 'yes' } },
      'context as string': { userId: 'u', event: 'e', context: 'x' },
      'properties too deep': deepIn({ userId: 'u', event: 'e' }, ['properties']),
    },
  },
  {
    method: 'POST',
    path: '/v1/batch',
    auth: 'write',
    cases: {
      missing: {},
      'batch as object': { batch: {} },
      'number message': { batch: [1] },
      'null message': { batch: [null] },
      'message without type': { batch: [{ userId: 'u', event: 'e' }] },
      'too many messages': { batch: Array.from({ length: 501 }, () => ({ type: 'track', userId: 'u', event: 'e' })) },
      'context too deep': deepIn({ batch: [{ type: 'track', userId: 'u', event: 'e' }] }, ['context']),
    },
  },
  {
    method: 'POST',
    path: '/v1/PushNotifications/DeviceRegistrations',
    auth: 'write',
    cases: {
      missing: {},
      'unknown provider': { token: 'tok-abcdefghijklmnop', appName: 'malformed', provider: 'GCM' },
      'token wrong type': { token: 5, appName: 'malformed', provider: 'FCM' },
      'appName too long': { token: 'tok-abcdefghijklmnop', appName: long(300), provider: 'FCM' },
      'bad userId': { userId: 'a b', token: 'tok-abcdefghijklmnop', appName: 'malformed', provider: 'FCM' },
      'token too long': { token: long(5000), appName: 'malformed', provider: 'FCM' },
    },
  },
  { method: 'DELETE', path: '/v1/PushNotifications/DeviceRegistrations/comms_device_registration_d_x', auth: 'server', cases: {}, noBody: true },
  {
    method: 'POST',
    path: '/v1/PushNotifications',
    auth: 'server',
    cases: {
      missing: {},
      'to as object': { to: { userId: 'u' }, content: note },
      'userId wrong type': { to: [{ userId: 5 }], content: note },
      'content as array': { to: [{ userId: 'u' }], content: [] },
      'no recipients': { to: [], content: note },
      'body too long': { to: [{ userId: 'u' }], content: { title: 't', body: long(5000) } },
    },
  },
  {
    method: 'PATCH',
    path: '/v1/customers/{userId}/device-token',
    auth: 'write',
    cases: {
      missing: {},
      'token wrong type': { device_token: 5, device_info: { platform: 'ios' } },
      'device_info as array': { device_token: 'tok-abcdefghijklmnop', device_info: [] },
      'unknown platform': { device_token: 'tok-abcdefghijklmnop', device_info: { platform: 'symbian' } },
      'token too long': { device_token: long(5000), device_info: { platform: 'ios' } },
      'osVersion too long': { device_token: 'tok-abcdefghijklmnop', device_info: { platform: 'ios', osVersion: long(100) } },
    },
  },
  {
    method: 'PUT',
    path: '/api/v1/customers/{userId}/devices',
    auth: 'write',
    cases: {
      missing: {},
      'device as array': { device: [] },
      'unknown platform': { device: { id: 'tok-abcdefghijklmnop', platform: 'web' } },
      'id wrong type': { device: { id: 5, platform: 'ios' } },
      'last_used as string': { device: { id: 'tok-abcdefghijklmnop', platform: 'ios', last_used: 'yesterday' } },
      'attributes as array': { device: { id: 'tok-abcdefghijklmnop', platform: 'ios', attributes: [] } },
      'push_enabled unknown': { device: { id: 'tok-abcdefghijklmnop', platform: 'ios', attributes: { push_enabled: 'maybe' } } },
      'token too long': { device: { id: long(5000), platform: 'ios' } },
    },
  },
  { method: 'DELETE', path: '/api/v1/customers/{userId}/devices/tok-abcdefghijklmnop', auth: 'write', cases: {}, noBody: true },
];

describe('malformed requests: always a 4xx with the error shape, never a 500', () => {
  let stack: Stack;
  let app: TestApp;
  const ids: Record<string, string> = { userId: 'malformed-user', messageId: '01J0MALFORMED00000000000000', campaignId: 'cmp_malformed0000000000' };

  beforeAll(async () => {
    stack = await startStack();
    app = await stack.createApp({}, 'malformed');
    ids.appId = app.id;
  });
  afterAll(async () => {
    if (process.env.DEBUG_STACK) console.log(stack?.logs());
    await stack?.stop();
  });

  const keyOf = (auth: Auth) => (auth === 'admin' ? stack.adminToken : auth === 'server' ? app.serverKey : app.writeKey);
  async function send(route: WriteRoute, raw: string) {
    const res = await fetch(`${stack.url}${route.path.replace(/\{(\w+)\}/g, (_, k: string) => ids[k])}`, {
      method: route.method,
      headers: { authorization: `Bearer ${keyOf(route.auth)}`, 'content-type': 'application/json' },
      body: raw,
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // asserted below
    }
    return { status: res.status, body: body as { error?: { code: string; message: string } } };
  }
  /** What is wrong with an answer that should be a 4xx (of `status` when given) with the error shape; null when nothing. */
  const problem = (label: string, res: { status: number; body: { error?: { code: string; message: string } } }, status?: number): string | null => {
    if (res.status < 400 || res.status >= 500) return `${label}: ${res.status}`;
    if (status && res.status !== status) return `${label}: ${res.status}, not ${status}`;
    const e = res.body?.error;
    if (!e || typeof e.code !== 'string' || !/^[a-z_]+$/.test(e.code) || typeof e.message !== 'string') return `${label}: not the error shape: ${JSON.stringify(res.body).slice(0, 200)}`;
    return null;
  };

  const label = (r: WriteRoute) => `${r.method} ${r.path}`;

  it.each(ROUTES.map((r) => [label(r), r] as const))('%s', async (name, route) => {
    const problems: (string | null)[] = [];
    const generic = Object.entries(GENERIC).filter(([what]) => (route.noBody ? ['bad JSON', 'trailing garbage'].includes(what) : !(route.allOptional && what === 'prototype keys')));
    for (const [what, raw] of generic) problems.push(problem(`${what}`, await send(route, raw)));
    for (const [what, body] of Object.entries(route.cases)) problems.push(problem(what, await send(route, body instanceof Raw ? body.text : JSON.stringify(body)), route.anyClientError ? undefined : 400));
    const oversized = await send(route, JSON.stringify({ token: long(70 * 1024) }));
    problems.push(problem('a body over 64 KiB', oversized, 413) ?? (oversized.body.error!.code === 'payload_too_large' ? null : `a body over 64 KiB: ${oversized.body.error!.code}`));
    expect(problems.filter((p) => p !== null)).toEqual([]);
  });

  it('a bad JSON body is 400 invalid_json', async () => {
    const res = await send(ROUTES.find((r) => r.path === '/v1/devices')!, '{"token": ');
    expect(res.status).toBe(400);
    expect(res.body.error!.code).toBe('invalid_json');
  });

  it('per-key rate limit: 429 with Retry-After and the error shape', async () => {
    const limited = await stack.createApp({ rateLimitPerSecond: 1 }, 'limited');
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => fetch(`${stack.url}/v1/devices/some-device`, { headers: { authorization: `Bearer ${limited.serverKey}` } }).then(async (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after'), body: await r.json() }))),
    );
    const refused = answers.filter((a) => a.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(r.body).toEqual({ error: { code: 'rate_limited', message: expect.any(String) } });
    }
    // The limit is per key: another app's key is not affected.
    expect((await fetch(`${stack.url}/v1/devices/some-device`, { headers: { authorization: `Bearer ${app.serverKey}` } })).status).toBe(404);
  });

  it('every service is still up afterwards', async () => {
    const health = await fetch(`${stack.url}/health`);
    expect(health.status).toBe(200);
    for (const [part, proc] of stack.procs) expect({ part, exitCode: proc.child.exitCode }).toEqual({ part, exitCode: null });
    const logs = stack.logs();
    expect(logs).not.toMatch(/"status":5\d\d/);
  });
});
