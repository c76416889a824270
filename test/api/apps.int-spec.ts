import { appStream, AppSettingsV1, DEFAULT_APP_SETTINGS } from '@pushledger/contracts';
import { PostgresEventStore } from '@pushledger/event-store';
import { api, changesNotOnTheLatest, startStack, Stack, TEN_SETTINGS_CHANGES } from '@pushledger/testing';

const NOT_FOUND = { error: { code: 'not_found', message: 'app not found' } };

describe('apps: the gateway sends app commands, the registration service decides them', () => {
  let stack: Stack;
  let store: PostgresEventStore;
  let admin: ReturnType<typeof api>;

  beforeAll(async () => {
    stack = await startStack(['gateway', 'registration']);
    store = await PostgresEventStore.connect({ connectionString: stack.env.POSTGRES_URL, poolSize: 2 });
    admin = api(stack.url, stack.adminToken);
  });
  afterAll(async () => {
    if (process.env.DEBUG_STACK) console.log(stack?.logs());
    await store?.close().catch(() => undefined);
    await stack?.stop();
  });

  const storedSettings = async (appId: string) => (await store.readStream(appStream(appId))).map((e) => (e.data as { settings: AppSettingsV1 }).settings);

  it('creates an app whose keys work on the very next request, and shows its keys only once', async () => {
    const res = await admin.post('/v1/apps', { name: 'apps-create', fcm: { projectId: 'apps-proj', serviceAccount: null }, settings: { maxDevicesPerUser: 3 } });
    expect(res.status).toBe(201);
    const settings = { ...DEFAULT_APP_SETTINGS, maxDevicesPerUser: 3 };
    expect(res.body).toEqual({ id: expect.stringMatching(/^app_[0-9a-f]{20}$/), name: 'apps-create', writeKey: expect.stringMatching(/^plw_/), serverKey: expect.stringMatching(/^pls_/), identitySecret: expect.stringMatching(/^[A-Za-z0-9_-]{128}$/), settings });
    const { id, writeKey, serverKey, identitySecret } = res.body;

    expect((await api(stack.url, serverKey).get('/v1/devices/apps-none')).status).toBe(404);
    const reg = await api(stack.url, writeKey).post('/v1/devices', { deviceId: 'apps-dev', token: 'apps-token-abcdefghijklmnopqrstuvwxyz', provider: 'fcm', platform: 'android' });
    expect(reg.status).toBe(201);

    const got = await admin.get(`/v1/apps/${id}`);
    expect(got.body).toEqual({ id, name: 'apps-create', fcm: { projectId: 'apps-proj', hasServiceAccount: false }, settings, createdAt: expect.any(String) });
    expect(JSON.stringify(got.body)).not.toContain(writeKey.slice(4));
    expect(JSON.stringify(got.body)).not.toContain(identitySecret);
  });

  it('two concurrent PATCHes of different settings both land', async () => {
    const app = await stack.createApp({}, 'apps-two');
    const [a, b] = await Promise.all([admin.patch(`/v1/apps/${app.id}`, { settings: { staleAfterDays: 30 } }), admin.patch(`/v1/apps/${app.id}`, { settings: { maxDevicesPerUser: 7 } })]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body.settings.staleAfterDays).toBe(30);
    expect(b.body.settings.maxDevicesPerUser).toBe(7);
    expect(a.body).toEqual({ id: app.id, name: 'apps-two', fcm: { projectId: 'test-proj', hasServiceAccount: false }, settings: expect.any(Object), createdAt: expect.any(String) });

    const got = await admin.get(`/v1/apps/${app.id}`);
    expect(got.body.settings).toEqual({ ...DEFAULT_APP_SETTINGS, staleAfterDays: 30, maxDevicesPerUser: 7 });
  });

  it('ten concurrent PATCHes all land, each on the settings the one before it left', async () => {
    const app = await stack.createApp({}, 'apps-ten');
    const answers = await Promise.all(TEN_SETTINGS_CHANGES.map((settings) => admin.patch(`/v1/apps/${app.id}`, { settings })));
    expect(answers.map((r) => r.status)).toEqual(TEN_SETTINGS_CHANGES.map(() => 200));
    answers.forEach((r, i) => expect(r.body.settings).toMatchObject(TEN_SETTINGS_CHANGES[i]));

    const history = await storedSettings(app.id);
    expect(history).toHaveLength(1 + TEN_SETTINGS_CHANGES.length);
    expect(changesNotOnTheLatest(history, TEN_SETTINGS_CHANGES)).toEqual([]);
    expect((await admin.get(`/v1/apps/${app.id}`)).body.settings).toEqual(history[history.length - 1]);
  });

  it('a PATCH that changes nothing answers the app and stores nothing', async () => {
    const app = await stack.createApp({ staleAfterDays: 9 }, 'apps-same');
    const res = await admin.patch(`/v1/apps/${app.id}`, { settings: { staleAfterDays: 9 } });
    expect(res.status).toBe(200);
    expect(res.body.settings).toEqual({ ...DEFAULT_APP_SETTINGS, staleAfterDays: 9 });
    expect(await storedSettings(app.id)).toHaveLength(1);
  });

  it('a PATCH of an app that does not exist is a 404, as before', async () => {
    for (const id of ['app_00000000000000000000', 'not-an-app']) {
      const res = await admin.patch(`/v1/apps/${id}`, { settings: { staleAfterDays: 30 } });
      expect({ id, status: res.status, body: res.body }).toEqual({ id, status: 404, body: NOT_FOUND });
    }
    expect(await storedSettings('app_00000000000000000000')).toEqual([]);
  });
});
