import { api, freePort, startService, startStack, Stack, TestApp, waitFor } from '@pushledger/testing';

const SOURCE = 'x-pushledger-read-source';
/** Asks for a position the read models cannot be at, and not to wait: the read goes to the streams' owner. */
const FROM_OWNER = { 'x-pushledger-min-position': '999999999999999', prefer: 'wait=0' };

const UNKNOWN_KEY = 'pls_thisKeyDoesNotExist0000000000000000000000';

const tok = (name: string) => `owner-${name}-${Date.now()}-abcdefghijklmnopqrstuvwxyz`;

/** Fires `n` requests at once with one key; answers their statuses. */
async function burst(url: string, key: string, path: string, n: number): Promise<number[]> {
  return Promise.all(Array.from({ length: n }, () => fetch(`${url}${path}`, { headers: { authorization: `Bearer ${key}` } }).then(async (r) => (await r.arrayBuffer(), r.status))));
}

describe('the gateway reads the streams through their owners, and its app directory through the registration service', () => {
  let stack: Stack;
  let app: TestApp;
  let other: TestApp;
  let registered: { status: number; body: Record<string, unknown> };

  beforeAll(async () => {
    stack = await startStack();
    app = await stack.createApp({}, 'owner-reads');
    other = await stack.createApp({}, 'owner-reads-other');
    registered = await api(stack.url, app.writeKey).post('/v1/devices', { deviceId: 'owner-1', token: tok('a'), provider: 'fcm', platform: 'android' });
  });
  afterAll(async () => {
    if (process.env.DEBUG_STACK) console.log(stack?.logs());
    await stack?.stop();
  });

  it('with the registration service stopped, a device read it must answer is a 503 in the error shape; after its restart, a 200', async () => {
    expect(registered.status).toBe(201);
    const server = api(stack.url, app.serverKey);
    const before = await server.get('/v1/devices/owner-1', FROM_OWNER);
    expect([before.status, before.headers.get(SOURCE), before.body]).toEqual([200, 'event-store', registered.body]);

    await stack.procs.get('registration')!.stop();
    for (const path of ['/v1/devices/owner-1', `/v1/devices/owner-1?asOf=${encodeURIComponent(new Date().toISOString())}`, '/v1/devices/owner-1/events']) {
      const down = await server.get(path, FROM_OWNER);
      // Not a 500, and not the read models' (possibly stale) document: the owner could not be asked.
      expect({ path, status: down.status, retryAfter: down.headers.get('retry-after'), body: down.body }).toEqual({
        path,
        status: 503,
        retryAfter: '1',
        body: { error: { code: 'unavailable', message: expect.any(String) } },
      });
    }

    // A gateway starting meanwhile cannot get its app list: it answers, but is not healthy, and a key it does not know cannot be judged yet: a 503, not a 401.
    const port = await freePort();
    const starting = startService('gateway', { ...stack.env, PORT: String(port) });
    try {
      const health = await waitFor(async () => {
        // The admin sees each dependency's status in full; anyone else only ok or degraded.
        const res = await fetch(`http://127.0.0.1:${port}/health`, { headers: { authorization: `Bearer ${stack.adminToken}` } }).catch(() => null);
        return res ? { status: res.status, body: (await res.json()) as { dependencies: Record<string, { status: string }> } } : undefined;
      }, { what: 'the starting gateway to answer /health', timeoutMs: 60000 });
      expect([health.status, health.body.dependencies.apps.status]).toEqual([503, 'degraded']);
      const unjudged = await api(`http://127.0.0.1:${port}`, UNKNOWN_KEY).get('/v1/devices/owner-1');
      expect([unjudged.status, unjudged.body.error.code, unjudged.headers.get('retry-after')]).toEqual([503, 'unavailable', '1']);

      await stack.restart('registration');
      const after = await server.get('/v1/devices/owner-1', FROM_OWNER);
      expect([after.status, after.headers.get(SOURCE), after.body]).toEqual([200, 'event-store', registered.body]);
      // The starting gateway gets its list once the registration service is back.
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health`)).status === 200, { what: 'the starting gateway to load its apps', timeoutMs: 60000 });
      expect((await api(`http://127.0.0.1:${port}`, app.serverKey).get('/v1/devices/owner-1')).body).toEqual(registered.body);
      expect((await api(`http://127.0.0.1:${port}`, UNKNOWN_KEY).get('/v1/devices/owner-1')).status).toBe(401);
    } finally {
      await starting.stop();
    }
  }, 180_000);

  it("another app's device id answers 404 exactly like a missing one, from the read models and from the owner alike", async () => {
    const intruder = api(stack.url, other.serverKey);
    for (const headers of [{}, FROM_OWNER]) {
      for (const suffix of ['', '/events', `?asOf=${encodeURIComponent(new Date().toISOString())}`]) {
        const foreign = await intruder.get(`/v1/devices/owner-1${suffix}`, headers);
        const missing = await intruder.get(`/v1/devices/owner-nowhere${suffix}`, headers);
        expect({ suffix, headers, status: foreign.status, body: foreign.body }).toEqual({ suffix, headers, status: 404, body: missing.body });
        expect(missing.body).toEqual({ error: { code: 'not_found', message: 'device not found' } });
      }
    }
    // A logout naming another app's device (or its token) finds nothing either.
    const write = api(stack.url, other.writeKey);
    expect((await write.post('/v1/logout', { deviceId: 'owner-1' })).body).toEqual((await write.post('/v1/logout', { deviceId: 'owner-nowhere' })).body);
  });

  it("a device's timeline pages: following Link gives every fact once, in order; a bad limit or cursor is a 400 naming it", async () => {
    const write = api(stack.url, app.writeKey);
    const server = api(stack.url, app.serverKey);
    const token = tok('paged');
    expect((await write.post('/v1/devices', { deviceId: 'owner-paged', token, provider: 'fcm', platform: 'android' })).status).toBe(201);
    for (const userId of ['pia', 'quin', 'rob']) {
      expect((await write.post('/v1/identify', { deviceId: 'owner-paged', userId })).status).toBe(200);
      expect((await write.post('/v1/logout', { deviceId: 'owner-paged' })).status).toBe(200);
    }
    const whole = await server.get('/v1/devices/owner-paged/events');
    expect(whole.status).toBe(200);
    expect(whole.headers.get('link')).toBeNull();
    const facts = whole.body as { revision: number; type: string }[];
    expect(facts.length).toBeGreaterThanOrEqual(7);
    expect(facts.map((f) => f.revision)).toEqual(facts.map((_, i) => i));

    const paged: { revision: number }[] = [];
    let path: string | null = '/v1/devices/owner-paged/events?limit=2';
    let pages = 0;
    while (path) {
      const page = await server.get(path);
      expect(page.status).toBe(200);
      expect(page.body.length).toBeLessThanOrEqual(2);
      paged.push(...page.body);
      pages++;
      path = /<([^>]+)>;\s*rel="next"/.exec(page.headers.get('link') ?? '')?.[1] ?? null;
    }
    expect(paged).toEqual(facts);
    expect(pages).toBe(Math.ceil(facts.length / 2));

    for (const [query, field] of [['limit=0', 'limit'], ['limit=1001', 'limit'], ['limit=two', 'limit'], ['after=bm90LWEtY3Vyc29y', 'after'], ['after=%5B1%5D', 'after']] as const) {
      const bad = await server.get(`/v1/devices/owner-paged/events?${query}`);
      expect({ query, status: bad.status, details: bad.body.error?.details }).toEqual({ query, status: 400, details: [{ field, reason: expect.any(String) }] });
    }
    // A cursor from this app's timeline, used by another app, finds nothing, as on a missing device.
    const second = /after=([^>&]+)/.exec((await server.get('/v1/devices/owner-paged/events?limit=2')).headers.get('link') ?? '')![1];
    const intruder = api(stack.url, other.serverKey);
    const foreign = await intruder.get(`/v1/devices/owner-paged/events?after=${second}`);
    const missing = await intruder.get(`/v1/devices/owner-nowhere/events?after=${second}`);
    expect([foreign.status, foreign.body]).toEqual([404, missing.body]);
  });

  it('an app created earlier authenticates at a gateway started afterwards; settings and apps changed later reach it on pushledger.apps.v1', async () => {
    const second = await stack.startGateway();
    const at2 = api(second.url, app.serverKey);
    const read = await at2.get('/v1/devices/owner-1');
    expect([read.status, read.body]).toEqual([200, registered.body]);
    // Unknown keys stay unknown there.
    expect((await api(second.url, UNKNOWN_KEY).get('/v1/devices/owner-1')).status).toBe(401);

    // An app created through the first gateway after the second started: only the topic can tell the second.
    const late = await stack.createApp({}, 'owner-reads-late');
    await waitFor(async () => (await api(second.url, late.serverKey).get('/v1/devices/nothing')).status === 404, { what: 'the new app to reach the second gateway', timeoutMs: 30000 });

    // The default limit lets a burst through; a PATCH through the first gateway lowers it, and the second follows.
    expect((await burst(second.url, late.serverKey, '/v1/devices/nothing', 20)).filter((s) => s === 429)).toEqual([]);
    const patched = await api(stack.url, stack.adminToken).patch(`/v1/apps/${late.id}`, { settings: { rateLimitPerSecond: 1 } });
    expect([patched.status, patched.body.settings.rateLimitPerSecond]).toEqual([200, 1]);
    const limited = await waitFor(async () => {
      const statuses = await burst(second.url, late.serverKey, '/v1/devices/nothing', 20);
      return statuses.includes(429) ? statuses : undefined;
    }, { what: 'the second gateway to apply the new rate limit', timeoutMs: 30000 });
    expect(limited.every((s) => s === 404 || s === 429)).toBe(true);
    // The app read at the second gateway is the registration service's, with the new settings.
    expect((await api(second.url, stack.adminToken).get(`/v1/apps/${late.id}`)).body.settings.rateLimitPerSecond).toBe(1);
  }, 180_000);
});
