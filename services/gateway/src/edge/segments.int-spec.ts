import { api, SEGMENT_STACK_PARTS, startStack, waitFor, type Stack, type TestApp } from '@pushledger/testing';

describe('segments over HTTP: stored by the campaign service, versions, preview from the read models', () => {
  let stack: Stack;
  let app: TestApp;
  let other: TestApp;

  beforeAll(async () => {
    // Four partitions and no time for an estimate: `estimate: true` then counts exactly one round of two.
    stack = await startStack(SEGMENT_STACK_PARTS, { SEGMENT_ESTIMATE_BUDGET_MS: '0' }, { projector: ['--partitions', '4'] });
    app = await stack.createApp();
    other = await stack.createApp({}, 'other');
  });
  afterAll(async () => {
    if (process.env.DEBUG_STACK) console.log(stack?.logs());
    await stack?.stop();
  });

  it('stores segments with versions, per app', async () => {
    const server = api(stack.url, app.serverKey);
    const rules = { all: [{ trait: 'plan', op: 'eq', value: 'pro' }, { device: 'platform', op: 'eq', value: 'ios' }] };
    const created = await server.post('/v1/segments', { name: 'pro on iOS', rules });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ appId: app.id, name: 'pro on iOS', version: 1, rules });
    const id = created.body.id;

    const v2rules = { any: [{ trait: 'plan', op: 'in', value: ['pro', 'team'] }, { eligibleDevice: true }] };
    const updated = await server.put(`/v1/segments/${id}`, { rules: v2rules });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ id, version: 2, name: 'pro on iOS', rules: v2rules });

    expect((await server.get(`/v1/segments/${id}`)).body).toMatchObject({ id, version: 2, rules: v2rules });
    expect((await server.get(`/v1/segments/${id}?version=1`)).body).toMatchObject({ id, version: 1, rules });
    expect((await server.get(`/v1/segments/${id}?version=3`)).status).toBe(404);
    expect((await server.get('/v1/segments/seg_nope')).status).toBe(404);
    expect((await server.put('/v1/segments/seg_nope', { rules })).status).toBe(404);
    // Another app's key sees nothing, exactly like a missing id.
    const foreign = await api(stack.url, other.serverKey).get(`/v1/segments/${id}`);
    expect(foreign.status).toBe(404);
    expect(foreign.body).toEqual((await api(stack.url, other.serverKey).get('/v1/segments/seg_nope')).body);
    // Listed at its latest version, in its own app only.
    const listed = await server.get('/v1/segments');
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual([expect.objectContaining({ id, version: 2, rules: v2rules })]);
    expect((await api(stack.url, other.serverKey).get('/v1/segments')).body).toEqual([]);
  });

  it('lists segments a page at a time: following Link gives each once, at its latest version, oldest first', async () => {
    const server = api(stack.url, (await stack.createApp({}, 'segment-pages')).serverKey);
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await server.post('/v1/segments', { name: `s${i}`, rules: { all: [{ trait: 'n', op: 'eq', value: i }] } })).body.id);
    expect((await server.put(`/v1/segments/${made[1]}`, { name: 's1 again', rules: { all: [{ eligibleDevice: true }] } })).status).toBe(200);
    const listed: { id: string; name: string; version: number }[] = [];
    let path: string | null = '/v1/segments?limit=2';
    let pages = 0;
    while (path) {
      const page = await server.get(path);
      expect([page.status, page.body.length <= 2]).toEqual([200, true]);
      listed.push(...page.body);
      pages++;
      path = /<([^>]+)>;\s*rel="next"/.exec(page.headers.get('link') ?? '')?.[1] ?? null;
    }
    expect({ pages, ids: listed.map((s) => s.id) }).toEqual({ pages: 3, ids: made });
    expect(listed[1]).toMatchObject({ name: 's1 again', version: 2 });
    expect((await server.get('/v1/segments?limit=0')).body.error.details).toEqual([{ field: 'limit', reason: expect.any(String) }]);
  });

  it('rejects invalid rules with a 400 naming the bad part; server key only', async () => {
    const server = api(stack.url, app.serverKey);
    const bad = await server.post('/v1/segments', { rules: { all: [{ trait: 'plan', op: 'eq', value: 'pro' }, { device: 'platform', op: 'equals', value: 'ios' }] } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
    expect(bad.body.error.message).toMatch(/^rules\.all\[1\]\.op: unknown operator "equals"/);
    expect(bad.body.error.details[0]).toMatchObject({ field: 'rules.all[1].op' });
    expect((await server.post('/v1/segments', {})).body.error.message).toMatch(/^rules/);
    expect((await server.post('/v1/segments/preview', { rules: { device: 'appVersion', op: 'semver_lt', value: 'new' } })).body.error.message).toMatch(/^rules\.value: must be a version/);
    expect((await api(stack.url, app.writeKey).post('/v1/segments/preview', { rules: { all: [] } })).status).toBe(403);
    expect((await api(stack.url).post('/v1/segments/preview', { rules: { all: [] } })).status).toBe(401);
    const notFlag = await server.post('/v1/segments/preview', { rules: { trait: 'plan', op: 'exists' }, estimate: 'yes' });
    expect(notFlag.status).toBe(400);
    expect(notFlag.body.error.details[0]).toMatchObject({ field: 'estimate' });
  });

  it('previews against what the projector has read from the store', async () => {
    const write = api(stack.url, app.writeKey);
    const server = api(stack.url, app.serverKey);
    const people = [
      { userId: 'ana', plan: 'pro', platform: 'ios', appVersion: '2.1.0' },
      { userId: 'ben', plan: 'free', platform: 'android', appVersion: '1.4.0' },
      { userId: 'cai', plan: 'pro', platform: 'android', appVersion: '3.0.0' },
    ];
    for (const p of people) {
      const reg = await write.post('/v1/devices', { deviceId: `dev-${p.userId}`, token: `token-${p.userId}-abcdefghijklmnopqrstuvwxyz`, provider: p.platform === 'ios' ? 'apns' : 'fcm', platform: p.platform, appVersion: p.appVersion, pushEnabled: true });
      expect(reg.status).toBe(201);
      expect((await write.post('/v1/identify', { deviceId: `dev-${p.userId}`, userId: p.userId, traits: { plan: p.plan } })).status).toBe(200);
    }
    // Same people in another app: previews are per app.
    await api(stack.url, other.writeKey).post('/v1/devices', { deviceId: 'dev-ana', token: 'token-other-ana-abcdefghijklmnop', provider: 'fcm', platform: 'ios', userId: 'ana' });

    const preview = (rules: unknown) => server.post('/v1/segments/preview', { rules });
    await waitFor(
      async () => {
        const r = await preview({ all: [{ trait: 'plan', op: 'exists' }, { eligibleDevice: true }] });
        return r.status === 200 && r.body.count === 3;
      },
      { timeoutMs: 60000, what: 'the projector to reach the read models' },
    );
    const pro = await preview({ trait: 'plan', op: 'eq', value: 'pro' });
    expect(pro.status).toBe(200);
    expect(pro.body.count).toBe(2);
    expect(pro.body.sample.sort()).toEqual(['ana', 'cai']);
    expect((await preview({ device: 'appVersion', op: 'semver_gte', value: '2.0.0' })).body.sample.sort()).toEqual(['ana', 'cai']);
    expect((await preview({ all: [{ not: { trait: 'plan', op: 'eq', value: 'pro' } }, { device: 'platform', op: 'eq', value: 'android' }] })).body).toEqual({ count: 1, sample: ['ben'] });

    const stored = await server.post('/v1/segments', { rules: { device: 'platform', op: 'eq', value: 'ios' } });
    expect((await server.post('/v1/segments/preview', { segmentId: stored.body.id })).body).toEqual({ count: 1, sample: ['ana'] });
    expect((await server.post('/v1/segments/preview', { segmentId: 'seg_nope' })).status).toBe(404);

    // Estimated: two of the four partitions counted, their matches doubled; asked without it, exact.
    const everyone = { trait: 'plan', op: 'exists' };
    const estimated = await server.post('/v1/segments/preview', { rules: everyone, estimate: true });
    expect(estimated.status).toBe(200);
    expect(estimated.body.estimate).toEqual({ partitionsCounted: 2, partitions: 4, margin: expect.any(Number) });
    expect(estimated.body.count % 2).toBe(0);
    expect(estimated.body.count).toBeLessThanOrEqual(6);
    expect((await server.post('/v1/segments/preview', { rules: everyone, estimate: false })).body).toEqual({ count: 3, sample: expect.any(Array) });
  });

  it('renders a campaign for one user as each of their devices would get it', async () => {
    const write = api(stack.url, app.writeKey);
    const server = api(stack.url, app.serverKey);
    for (const [id, locale] of [['dev-eve-fr', 'fr_CA'], ['dev-eve-es', 'es-ES'], ['dev-eve-en', null]] as const) {
      const reg = await write.post('/v1/devices', { deviceId: id, token: `token-${id}-abcdefghijklmnopqrstuvwxyz`, provider: 'fcm', platform: 'android', ...(locale ? { locale } : {}), userId: 'eve' });
      expect(reg.status).toBe(201);
    }
    expect((await server.patch('/v1/users/eve', { traits: { name: 'Eve' } })).status).toBe(200);
    const content = {
      title: 'Hi {{user.traits.name}}{{user.traits.nickname | default: "!"}}',
      body: 'For {{user.id}}',
      locales: { fr: { title: 'Salut {{user.traits.name}}' }, 'es-ES': { title: 'Hola {{user.traits.name}}', body: 'Para {{user.id}}' } },
    };
    // Read-your-writes: the traits just written are in the preview.
    const res = await server.post('/v1/campaigns/preview', { content, userId: 'eve' });
    expect(res.status).toBe(200);
    expect(res.body.userId).toBe('eve');
    expect(res.body.content).toEqual({ locale: null, title: 'Hi Eve!', body: 'For eve', imageUrl: null });
    const byDevice = Object.fromEntries(res.body.devices.map((d: { deviceId: string; title: string; body: string }) => [d.deviceId, `${d.title} / ${d.body}`]));
    expect(byDevice).toEqual({ 'dev-eve-fr': 'Salut Eve / For eve', 'dev-eve-es': 'Hola Eve / Para eve', 'dev-eve-en': 'Hi Eve! / For eve' });

    expect((await server.post('/v1/campaigns/preview', { content, userId: 'nobody' })).status).toBe(404);
    // Another app's user answers like a missing one.
    expect((await api(stack.url, other.serverKey).post('/v1/campaigns/preview', { content, userId: 'eve' })).status).toBe(404);
    const bad = await server.post('/v1/campaigns/preview', { content: { title: 'Hi {{secret}}' }, userId: 'eve' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0]).toMatchObject({ field: 'content.title' });
    expect((await server.post('/v1/campaigns/preview', { content, userId: 'a b' })).body.error.details[0]).toMatchObject({ field: 'userId' });
    expect((await write.post('/v1/campaigns/preview', { content, userId: 'eve' })).status).toBe(403);
  });
});
