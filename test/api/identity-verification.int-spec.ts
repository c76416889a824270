import { createHash, createHmac, randomBytes, randomUUID } from 'crypto';
import type { Consumer, Producer } from 'kafkajs';
import { appStream, DEFAULT_APP_SETTINGS, hashKey, topicsFor, type TopicMap } from '@pushledger/contracts';
import { createProducer } from '@pushledger/kafka';
import { createPrivateEventStore } from '@pushledger/privacy';
import { api, openedValue, startStack, Stack, TestApp, testConfig, testKafka, uniqueName, waitFor } from '@pushledger/testing';

/** What an app's backend computes for its client: hex HMAC-SHA256 of the user id under the identity secret. */
const hmac = (secret: string, userId: string) => createHmac('sha256', secret).update(userId, 'utf8').digest('hex');
/** What the services verify with, and must never store or publish readable: the secret's SHA-256. */
const secretHash = (secret: string) => createHash('sha256').update(secret, 'utf8').digest('hex');

/** Every message of a topic, from its start to its end now. */
async function readTopic(topic: string): Promise<string[]> {
  const kafka = testKafka();
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
  await admin.disconnect();
  const seen = new Map<number, number>();
  const values: string[] = [];
  const reader = kafka.consumer({ groupId: uniqueName('topic-reader'), maxWaitTimeInMs: 200 });
  await reader.connect();
  await reader.subscribe({ topic, fromBeginning: true });
  await reader.run({
    eachMessage: async ({ partition, message }) => {
      values.push(message.value?.toString('utf8') ?? '');
      seen.set(partition, Number(message.offset) + 1);
    },
  });
  try {
    await waitFor(async () => [...ends].every(([p, high]) => high === 0 || (seen.get(p) ?? 0) >= high), { what: `the whole of ${topic}`, timeoutMs: 30000 });
  } finally {
    await reader.disconnect();
  }
  return values;
}

type Res = { status: number; body: any };
/** One route that can bind a user: `hash` undefined sends none; `key` is the key the call goes with. */
type Route = { name: string; call: (app: TestApp, key: string, userId: string, n: string, hash?: string) => Promise<Res> };

const routes: Route[] = [
  {
    name: 'native POST /v1/devices',
    call: (_app, key, userId, n, hash) => api(stackUrl(), key).post('/v1/devices', { token: `tok-dev-${n}-APA91bXyZ`, provider: 'fcm', platform: 'android', userId, ...(hash === undefined ? {} : { userHash: hash }) }),
  },
  {
    name: 'native POST /v1/identify',
    call: async (_app, key, userId, n, hash) => {
      const deviceId = `dev-idf-${n}`;
      // Anonymous: no user named, so no hash needed, even where identities are verified.
      const anon = await api(stackUrl(), key).post('/v1/devices', { deviceId, token: `tok-idf-${n}-APA91bXyZ`, provider: 'fcm', platform: 'ios' });
      expect([200, 201]).toContain(anon.status);
      return api(stackUrl(), key).post('/v1/identify', { deviceId, userId, ...(hash === undefined ? {} : { userHash: hash }) });
    },
  },
  {
    name: 'Twilio POST /v1/PushNotifications/DeviceRegistrations',
    call: (app, key, userId, n, hash) =>
      api(stackUrl(), key).post('/v1/PushNotifications/DeviceRegistrations', { userId, token: `tok-twl-${n}-APA91bXyZ`, appName: appNames.get(app.id), provider: 'FCM', ...(hash === undefined ? {} : { userHash: hash }) }),
  },
  {
    name: 'Masivo PATCH /v1/customers/{customerId}/device-token',
    call: (_app, key, userId, n, hash) =>
      api(stackUrl(), key).patch(`/v1/customers/${userId}/device-token`, { device_token: `tok-msv-${n}-APA91bXyZ`, device_info: { platform: 'android' } }, hash === undefined ? {} : { 'X-User-Hash': hash }),
  },
  {
    name: 'Customer.io PUT /api/v1/customers/{id}/devices',
    call: (_app, key, userId, n, hash) => api(stackUrl(), key).put(`/api/v1/customers/${userId}/devices`, { device: { id: `tok-cio-${n}-APA91bXyZ`, platform: 'android' } }, hash === undefined ? {} : { 'X-User-Hash': hash }),
  },
  {
    name: 'Segment POST /v1/track (register push, userHash at the top)',
    call: (_app, key, userId, n, hash) =>
      api(stackUrl(), key).post('/v1/track', { type: 'track', event: 'register push', userId, properties: { deviceId: `dev-trk-${n}`, fcmToken: `tok-trk-${n}-APA91bXyZ`, deviceType: 'Android' }, ...(hash === undefined ? {} : { userHash: hash }) }),
  },
  {
    name: 'Segment POST /v1/identify (userHash in context)',
    call: (_app, key, userId, n, hash) => api(stackUrl(), key).post('/v1/identify', { type: 'identify', userId, anonymousId: `dev-sid-${n}`, ...(hash === undefined ? {} : { context: { userHash: hash } }) }),
  },
  {
    name: 'Segment POST /v1/batch (one message naming the user among good ones)',
    call: (app, key, userId, n, hash) =>
      api(stackUrl(), key).post('/v1/batch', {
        batch: [
          { type: 'track', event: 'register push', userId: `dev-bat-${n}-a`, properties: { deviceId: `dev-bat-${n}-a`, fcmToken: `tok-bat-${n}-APA91bXyZ`, deviceType: 'iOS' } },
          { type: 'identify', userId: 'other-user', anonymousId: `dev-bat-${n}-b`, userHash: app.identitySecret ? hmac(app.identitySecret, 'other-user') : undefined },
          { type: 'identify', userId, anonymousId: `dev-bat-${n}-c`, ...(hash === undefined ? {} : { userHash: hash }) },
        ],
      }),
  },
];

let stack: Stack;
const appNames = new Map<string, string>();
const stackUrl = () => stack.url;

describe('Identity verification per app (userHash)', () => {
  let verifying: TestApp;
  let open: TestApp;
  let topics: TopicMap;
  let producer: Producer;
  let dlq: Consumer;
  const dead = new Map<string, string>();

  beforeAll(async () => {
    stack = await startStack(['gateway', 'registration', 'identity']);
    verifying = await stack.createApp({ identityVerification: true }, 'verifying');
    open = await stack.createApp({}, 'open');
    appNames.set(verifying.id, 'verifying');
    appNames.set(open.id, 'open');
    topics = topicsFor(stack.suffix);
    const kafka = testKafka();
    producer = createProducer(kafka);
    await producer.connect();
    dlq = kafka.consumer({ groupId: uniqueName('dlq-reader'), maxWaitTimeInMs: 200 });
    await dlq.connect();
    await dlq.subscribe({ topic: topics.ingestDlq, fromBeginning: true });
    await dlq.run({
      eachMessage: async ({ message }) => {
        const id = message.headers?.['test-id']?.toString();
        if (id) dead.set(id, message.headers?.['dlq-reason']?.toString() ?? '');
      },
    });
  });

  afterAll(async () => {
    if (process.env.DEBUG_STACK) console.log(stack?.logs());
    await dlq?.disconnect().catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    await stack?.stop();
  });

  it('answers the identity secret once, keeps the setting (default off) and never shows the secret again', async () => {
    expect(typeof verifying.identitySecret).toBe('string');
    expect(Buffer.byteLength(verifying.identitySecret)).toBeGreaterThan(64);
    expect(verifying.identitySecret).not.toBe(open.identitySecret);
    expect(verifying.settings.identityVerification).toBe(true);
    expect(open.settings.identityVerification).toBe(false);

    const admin = api(stack.url, stack.adminToken);
    const shown = JSON.stringify([(await admin.get(`/v1/apps/${verifying.id}`)).body, (await admin.patch(`/v1/apps/${verifying.id}`, { settings: { staleAfterDays: 30 } })).body]);
    expect(shown).toContain('"identityVerification":true');
    expect(shown).not.toContain(verifying.identitySecret);
    expect(shown).not.toMatch(/identitySecret/);

    const bad = await admin.patch(`/v1/apps/${open.id}`, { settings: { identityVerification: 'yes' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].field).toBe('settings.identityVerification');
    expect(stack.logs()).not.toContain(verifying.identitySecret);
  });

  describe.each(routes)('$name', (route) => {
    const n = () => `${route.name.replace(/[^a-z]/gi, '').slice(0, 12)}-${Math.random().toString(36).slice(2, 8)}`;

    it('refuses a write key naming a user without a hash or with a wrong one (401 user_hash_invalid), accepts the right one', async () => {
      const userId = `u-${n()}`;
      for (const hash of [undefined, '', hmac(verifying.identitySecret, `${userId}-other`), hmac(open.identitySecret, userId)]) {
        const res = await route.call(verifying, verifying.writeKey, userId, n(), hash);
        expect({ hash, status: res.status, code: res.body?.error?.code }).toEqual({ hash, status: 401, code: 'user_hash_invalid' });
      }
      const ok = await route.call(verifying, verifying.writeKey, userId, n(), hmac(verifying.identitySecret, userId));
      expect(ok.status).toBeGreaterThanOrEqual(200);
      expect(ok.status).toBeLessThan(300);
    });

    it('asks nothing of the server key, nor of a write key where the app does not verify identities', async () => {
      const server = await route.call(verifying, verifying.serverKey, `u-${n()}`, n());
      expect(server.status).toBeGreaterThanOrEqual(200);
      expect(server.status).toBeLessThan(300);
      const unverified = await route.call(open, open.writeKey, `u-${n()}`, n());
      expect(unverified.status).toBeGreaterThanOrEqual(200);
      expect(unverified.status).toBeLessThan(300);
    });
  });

  it('binds the user only with the right hash (native registration, Segment track through the gateway)', async () => {
    const server = api(stack.url, verifying.serverKey);
    const native = await api(stack.url, verifying.writeKey).post('/v1/devices', { deviceId: 'dev-bind-1', token: 'tok-bind-1-APA91bXyZ', provider: 'fcm', platform: 'android', userId: 'ada', userHash: hmac(verifying.identitySecret, 'ada') });
    expect(native.status).toBe(201);
    expect(native.body.userId).toBe('ada');
    const refused = await api(stack.url, verifying.writeKey).post('/v1/devices', { deviceId: 'dev-bind-2', token: 'tok-bind-2-APA91bXyZ', provider: 'fcm', platform: 'android', userId: 'ada' });
    expect(refused.status).toBe(401);
    expect((await server.get('/v1/devices/dev-bind-2/events')).status).toBe(404);

    // The gateway's ingest topic names the app in a header: the registration service applies what the gateway accepted.
    const track = await api(stack.url, verifying.writeKey).post('/v1/track', { type: 'track', event: 'register push', userId: 'bob', userHash: hmac(verifying.identitySecret, 'bob'), properties: { deviceId: 'dev-bind-3', fcmToken: 'tok-bind-3-APA91bXyZ', deviceType: 'Android' } });
    expect(track.status).toBe(200);
    const events = await waitFor(async () => {
      const res = await server.get('/v1/devices/dev-bind-3/events');
      return res.status === 200 && (res.body as { type: string; data: { userId?: string } }[]).some((e) => e.type === 'Identified') && res.body;
    }, { what: 'the Segment registration to be applied' });
    expect(events.map((e: { type: string }) => e.type)).toEqual(['TokenRegistered', 'Identified']);
  });

  it('Kafka ingest: a write-key message naming a user without a valid hash is dead-lettered (user_hash_invalid); a right one is applied', async () => {
    const register = (deviceId: string, userId: string, extra: Record<string, unknown>) => ({
      type: 'track',
      event: 'register push',
      userId,
      messageId: `${deviceId}-${userId}-${Object.keys(extra).join('-')}`,
      properties: { deviceId, fcmToken: `tok-${deviceId}-APA91bXyZ`, deviceType: 'Android' },
      writeKey: verifying.writeKey,
      ...extra,
    });
    const message = (testId: string, key: string, body: unknown) => ({ key, value: JSON.stringify(body), headers: { 'test-id': testId } });
    await producer.send({
      topic: topics.ingest,
      acks: -1,
      messages: [
        message('missing', 'dev-k-1', register('dev-k-1', 'carol', {})),
        message('wrong', 'dev-k-1', register('dev-k-1', 'carol', { userHash: hmac(verifying.identitySecret, 'dave') })),
        message('identify-missing', 'dev-k-1', { type: 'identify', userId: 'carol', anonymousId: 'dev-k-1', writeKey: verifying.writeKey, messageId: 'idf-k-1' }),
        message('other-app', 'dev-k-2', register('dev-k-2', 'carol', { writeKey: open.writeKey })),
        message('good', 'dev-k-1', register('dev-k-1', 'carol', { context: { userHash: hmac(verifying.identitySecret, 'carol') } })),
      ],
    });
    await waitFor(async () => dead.size >= 3 && dead, { what: 'the refused messages in the ingest DLQ', timeoutMs: 30000 });
    const server = api(stack.url, verifying.serverKey);
    const applied = await waitFor(async () => {
      const res = await server.get('/v1/devices/dev-k-1/events');
      return res.status === 200 && (res.body as { type: string }[]).some((e) => e.type === 'Identified') && res.body;
    }, { what: 'the good message to be applied' });
    expect(applied.map((e: { type: string }) => e.type)).toEqual(['TokenRegistered', 'Identified']);
    // The app without the setting took its message without a hash.
    await waitFor(async () => (await api(stack.url, open.serverKey).get('/v1/devices/dev-k-2/events')).status === 200, { what: 'the unverified app\'s message to be applied' });
    expect(Object.fromEntries(dead)).toEqual({ missing: 'user_hash_invalid', wrong: 'user_hash_invalid', 'identify-missing': 'user_hash_invalid' });
  });

  it("keeps no userHash in the gateway's ingest topic (checked, then dropped)", async () => {
    const kafka = testKafka();
    const admin = kafka.admin();
    await admin.connect();
    const ends = new Map((await admin.fetchTopicOffsets(topics.gatewayIngest)).map((p) => [p.partition, Number(p.high)]));
    await admin.disconnect();
    expect([...ends.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    const seen = new Map<number, number>();
    const values: string[] = [];
    const reader = kafka.consumer({ groupId: uniqueName('gateway-ingest-reader'), maxWaitTimeInMs: 200 });
    await reader.connect();
    await reader.subscribe({ topic: topics.gatewayIngest, fromBeginning: true });
    await reader.run({
      eachMessage: async ({ partition, message }) => {
        values.push(JSON.stringify(openedValue(stack.env, message.value?.toString('utf8') ?? '')));
        seen.set(partition, Number(message.offset) + 1);
      },
    });
    try {
      await waitFor(async () => [...ends].every(([p, high]) => high === 0 || (seen.get(p) ?? 0) >= high), { what: 'the whole gateway ingest topic', timeoutMs: 30000 });
    } finally {
      await reader.disconnect();
    }
    expect(values.some((v) => v.includes('"userId"'))).toBe(true);
    expect(values.filter((v) => v.includes('userHash'))).toEqual([]);
  });

  it("stores and publishes the identity secret's hash sealed only: the app stream and pushledger.apps.v1 hold no readable hash", async () => {
    const plain = secretHash(verifying.identitySecret);
    const store = await createPrivateEventStore(testConfig({ POSTGRES_URL: stack.env.POSTGRES_URL }), { poolSize: 1 });
    try {
      const events = await store.readStream(appStream(verifying.id));
      const created = events.find((e) => e.type === 'AppCreated')!;
      expect((created.data as { identitySecretHash?: unknown }).identitySecretHash).toEqual({ $sealed: expect.stringMatching(/^v1\./) });
      expect(JSON.stringify(events, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).not.toContain(plain);
    } finally {
      await store.close();
    }
    const entries = (await readTopic(topics.apps)).filter((v) => v.includes(verifying.id));
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) {
      expect(entry).not.toContain(plain);
      expect(JSON.parse(entry).identitySecretHash).toEqual({ $sealed: expect.any(String) });
    }
    expect(stack.logs()).not.toContain(plain);
  });

  it('an app stream written before sealing (the plain hash) still verifies, at the gateway and in Kafka ingest', async () => {
    const appId = `app_${randomBytes(10).toString('hex')}`;
    const identitySecret = randomBytes(96).toString('base64url');
    const writeKey = `plw_${randomBytes(24).toString('base64url')}`;
    const serverKey = `pls_${randomBytes(32).toString('base64url')}`;
    const store = await createPrivateEventStore(testConfig({ POSTGRES_URL: stack.env.POSTGRES_URL }), { poolSize: 1 });
    try {
      await store.appendToStream(
        appStream(appId),
        [
          {
            eventId: randomUUID(),
            type: 'AppCreated',
            data: { appId, name: 'legacy', writeKeyHash: hashKey(writeKey), serverKeyHash: hashKey(serverKey), identitySecretHash: secretHash(identitySecret), fcm: { projectId: 'legacy', serviceAccount: null }, settings: { ...DEFAULT_APP_SETTINGS, identityVerification: true }, createdAt: new Date().toISOString() },
            metadata: { appId, correlationId: randomUUID(), causationId: randomUUID(), occurredAt: new Date().toISOString(), schemaVersion: 1 },
          },
        ],
        { expectedRevision: 'no_stream' },
      );
    } finally {
      await store.close();
    }
    // A change through the API makes the owner announce the app to the gateways, as it does for any old app.
    const admin = api(stack.url, stack.adminToken);
    const changed = await waitFor(async () => {
      const res = await admin.patch(`/v1/apps/${appId}`, { settings: { staleAfterDays: 45 } });
      return res.status === 200 && res;
    }, { what: 'the legacy app to be known to its owner' });
    expect(changed.body.settings.identityVerification).toBe(true);

    const writer = api(stack.url, writeKey);
    const device = (n: string, userHash?: string) => ({ deviceId: `dev-legacy-${n}`, token: `tok-legacy-${n}-APA91bXyZ`, provider: 'fcm', platform: 'android', userId: 'erin', ...(userHash === undefined ? {} : { userHash }) });
    expect((await writer.post('/v1/devices', device('none'))).body).toEqual({ error: { code: 'user_hash_invalid', message: expect.any(String) } });
    expect((await writer.post('/v1/devices', device('wrong', hmac(identitySecret, 'frank')))).status).toBe(401);
    expect((await writer.post('/v1/devices', device('right', hmac(identitySecret, 'erin')))).status).toBe(201);

    // The registration service verifies Kafka ingest with the same stored hash.
    const register = (deviceId: string, extra: Record<string, unknown>) => ({ type: 'track', event: 'register push', userId: 'erin', messageId: `${deviceId}-legacy`, properties: { deviceId, fcmToken: `tok-${deviceId}-APA91bXyZ`, deviceType: 'Android' }, writeKey, ...extra });
    await producer.send({
      topic: topics.ingest,
      acks: -1,
      messages: [
        { key: 'dev-legacy-k1', value: JSON.stringify(register('dev-legacy-k1', { userHash: hmac(identitySecret, 'frank') })), headers: { 'test-id': 'legacy-wrong' } },
        { key: 'dev-legacy-k2', value: JSON.stringify(register('dev-legacy-k2', { userHash: hmac(identitySecret, 'erin') })), headers: { 'test-id': 'legacy-right' } },
      ],
    });
    await waitFor(async () => dead.has('legacy-wrong'), { what: 'the wrong-hash message in the DLQ', timeoutMs: 30000 });
    expect(dead.get('legacy-wrong')).toBe('user_hash_invalid');
    const server = api(stack.url, serverKey);
    await waitFor(async () => (await server.get('/v1/devices/dev-legacy-k2')).status === 200, { what: 'the right-hash message to be applied' });
    expect(dead.has('legacy-right')).toBe(false);
  });
});
