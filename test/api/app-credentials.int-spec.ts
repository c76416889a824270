// App credentials sealed at rest, key rotation with a grace period, lifting a credentials pause, and the
// admin's app list, against the real engines, the compiled services and the FCM simulator.
import { createPublicKey, generateKeyPairSync, randomBytes, verify } from 'crypto';
import * as path from 'path';
import mongoose from 'mongoose';
import { Client } from 'pg';
import { FcmSimulator } from '@pushledger/fcm';
import { AcceptedPush, api, finishedPush, repoRoot, scanTopics, startStack, Stack, waitFor } from '@pushledger/testing';
import { runReplayCli } from '../history/replay-cli';

type Api = ReturnType<typeof api>;

describe('app credentials and keys', () => {
  let sim: FcmSimulator;
  let stack: Stack;
  let admin: Api;
  let n = 0;

  beforeAll(async () => {
    sim = await FcmSimulator.start({ certDir: path.join(repoRoot, '.data/fcm-sim-test') });
    stack = await startStack(['gateway', 'registration', 'identity', 'relay', 'projector', 'campaign', 'delivery'], {
      FCM_ENDPOINT: sim.url,
      FCM_CA_FILE: sim.caFile,
      // Every line the services write is scanned: the more they say, the stronger the check.
      LOG_LEVEL: 'debug',
    });
    admin = api(stack.url, stack.adminToken);
  });
  afterAll(async () => {
    if (process.env.DEBUG_STACK) console.log(stack?.logs());
    await stack?.stop();
    await sim?.stop();
  });

  async function register(write: Api, prefix: string, userId?: string) {
    const id = `dev-${++n}`;
    const token = `${prefix}:${id}-${randomBytes(8).toString('hex')}-${'x'.repeat(40)}`;
    const res = await write.post('/v1/devices', { deviceId: id, token, provider: 'fcm', platform: 'android', ...(userId ? { userId } : {}) });
    expect(res.status).toBe(201);
    return { id, token };
  }

  async function push(server: Api, to: Record<string, string>): Promise<AcceptedPush> {
    const res = await server.post('/v1/push', { to, notification: { title: 'Hello', body: 'World' }, transactional: true });
    expect(res.status).toBe(202);
    return res.body as AcceptedPush;
  }

  it('a service account is sealed: delivery signs with it, and its private key is nowhere else', async () => {
    const marker = `sa-marker-${randomBytes(12).toString('hex')}`;
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    // PEM readers skip text before the BEGIN line: the marker rides inside the private key and signing still works.
    const pem = `${marker}\n${privateKey}`;
    const keyBody = privateKey.split('\n')[5];
    const serviceAccount = { type: 'service_account', project_id: 'sealed-proj', private_key_id: 'kid-1', private_key: pem, client_email: 'sender@sealed-proj.iam.gserviceaccount.com' };
    const created = await admin.post('/v1/apps', { name: 'sealed', fcm: { projectId: 'sealed-proj', serviceAccount }, settings: {} });
    expect(created.status).toBe(201);
    const app = created.body as { id: string; writeKey: string; serverKey: string };
    const write = api(stack.url, app.writeKey);
    const server = api(stack.url, app.serverKey);

    // Ordinary traffic: a user's device registered, a push delivered through the simulator.
    const userId = `sealed-user-${randomBytes(4).toString('hex')}`;
    const device = await register(write, 'ok', userId);
    const accepted = await push(server, { deviceId: device.id });
    expect(accepted.targeted).toBe(1);
    expect(await finishedPush(server, accepted)).toMatchObject([{ deviceId: device.id, outcome: 'sent' }]);

    // Delivery opened the sealed key: the simulator got a token signed with it, for this service account.
    const [request] = sim.requestsFor(device.token);
    const [header, claims, signature] = request.bearer!.split('.');
    expect(JSON.parse(Buffer.from(claims, 'base64url').toString())).toMatchObject({ iss: serviceAccount.client_email, aud: 'https://fcm.googleapis.com/' });
    expect(verify('RSA-SHA256', Buffer.from(`${header}.${claims}`), createPublicKey(publicKey), Buffer.from(signature, 'base64url'))).toBe(true);

    const secrets = [marker, keyBody];
    const leaks = (text: string) => secrets.filter((s) => text.includes(s));

    // API answers.
    const one = await admin.get(`/v1/apps/${app.id}`);
    expect(one.body).toMatchObject({ id: app.id, fcm: { projectId: 'sealed-proj', hasServiceAccount: true } });
    const list = await admin.get('/v1/apps');
    expect(list.body.map((a: { id: string }) => a.id)).toContain(app.id);
    const exported = await server.get(`/v1/users/${userId}/export`);
    expect(exported.status).toBe(200);
    const answers = JSON.stringify([created.body, one.body, list.body, exported.body]);
    expect(answers).toContain(device.id);
    expect(leaks(answers)).toEqual([]);

    // Replay, plain and redacted: the app's facts are there, the credential only sealed (or hidden).
    const replayEnv = { POSTGRES_URL: stack.env.POSTGRES_URL, EVENT_STORE: 'postgres' };
    for (const args of [['--app', app.id], ['--app', app.id, '--redact']]) {
      const run = await runReplayCli(args, replayEnv);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('"AppCreated"');
      expect(run.stdout).toContain(args.includes('--redact') ? '[credential]' : '$sealed');
      expect(leaks(run.stdout + run.stderr)).toEqual([]);
    }

    // Every Kafka topic of this stack (keys, values, headers).
    const kafkaBytes = await topicBytes(stack.suffix);
    expect(kafkaBytes).toContain(app.id);
    expect(kafkaBytes).toContain('$sealed');
    expect(leaks(kafkaBytes)).toEqual([]);

    // Every FerretDB collection of this stack, as raw BSON.
    const readModels = await mongoBytes(stack.env.MONGODB_URI);
    expect(readModels).toContain(device.id);
    expect(leaks(readModels)).toEqual([]);

    // Every PostgreSQL table of the stack's database, event payloads included: only the sealed form is stored.
    const tables = await postgresText(stack.env.POSTGRES_URL);
    expect(tables).toContain('AppCreated');
    expect(tables).toContain('$sealed');
    expect(leaks(tables)).toEqual([]);

    // The services' own output.
    const logs = [...stack.procs.values()].map((p) => p.logs()).join('\n');
    expect(logs.length).toBeGreaterThan(0);
    expect(leaks(logs)).toEqual([]);
  });

  it('rotated keys: the previous ones work for the grace period, then 401; with no grace at once', async () => {
    const app = await stack.createApp();
    const before = Date.now();
    const rotated = await admin.post(`/v1/apps/${app.id}/keys`, { graceSeconds: 2 });
    expect(rotated.status).toBe(201);
    expect(rotated.body).toEqual({ writeKey: expect.stringMatching(/^plw_/), serverKey: expect.stringMatching(/^pls_/) });
    const fresh = rotated.body as { writeKey: string; serverKey: string };

    expect((await api(stack.url, fresh.serverKey).get('/v1/devices/nope')).status).toBe(404);
    expect((await api(stack.url, app.serverKey).get('/v1/devices/nope')).status).toBe(404);
    await register(api(stack.url, app.writeKey), 'ok');
    await register(api(stack.url, fresh.writeKey), 'ok');

    const expired = await waitFor(async () => ((await api(stack.url, app.serverKey).get('/v1/devices/nope')).status === 401 ? Date.now() : undefined), { timeoutMs: 20000, intervalMs: 100, what: 'the old server key to expire' });
    expect(expired - before).toBeGreaterThanOrEqual(2000);
    const oldWrite = await api(stack.url, app.writeKey).post('/v1/devices', { deviceId: 'late', token: `ok:late-${'x'.repeat(40)}`, provider: 'fcm', platform: 'android' });
    expect(oldWrite.status).toBe(401);
    expect(oldWrite.body).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    expect((await api(stack.url, fresh.serverKey).get('/v1/devices/nope')).status).toBe(404);

    const again = await admin.post(`/v1/apps/${app.id}/keys`, {});
    expect(again.status).toBe(201);
    expect((await api(stack.url, fresh.serverKey).get('/v1/devices/nope')).status).toBe(401);
    expect((await api(stack.url, fresh.writeKey).post('/v1/devices', { deviceId: 'late', token: `ok:late-${'x'.repeat(40)}`, provider: 'fcm', platform: 'android' })).status).toBe(401);
    expect((await api(stack.url, again.body.serverKey).get('/v1/devices/nope')).status).toBe(404);
  });

  it('rotation and resume refuse bad input, unknown apps and other apps’ keys', async () => {
    const app = await stack.createApp();
    const other = await stack.createApp();
    for (const graceSeconds of [-1, 1.5, 'x', 31 * 24 * 3600]) {
      const res = await admin.post(`/v1/apps/${app.id}/keys`, { graceSeconds });
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body.error)).toContain('graceSeconds');
    }
    const missing = 'app_00000000000000000000';
    expect((await admin.post(`/v1/apps/${missing}/keys`, {})).body).toEqual({ error: { code: 'not_found', message: 'app not found' } });
    expect((await admin.post(`/v1/apps/${missing}/keys`, {})).status).toBe(404);
    expect((await admin.post(`/v1/apps/${missing}/sends/resume`)).status).toBe(404);
    expect((await admin.get(`/v1/apps/${missing}/sends`)).status).toBe(404);
    expect((await api(stack.url, other.serverKey).get(`/v1/apps/${app.id}/sends`)).status).toBe(404);
    expect(await admin.get(`/v1/apps/${app.id}/sends`)).toMatchObject({ status: 200, body: { appId: app.id, paused: false, reason: null } });
    expect((await api(stack.url, other.serverKey).post(`/v1/apps/${app.id}/sends/resume`)).status).toBe(404);
    expect((await api(stack.url, app.writeKey).post(`/v1/apps/${app.id}/sends/resume`)).status).toBe(403);
    expect((await api(stack.url, app.serverKey).post(`/v1/apps/${app.id}/keys`, {})).status).toBe(401);
    expect((await api(stack.url, app.serverKey).get('/v1/apps')).status).toBe(401);
    expect(await api(stack.url, app.serverKey).post(`/v1/apps/${app.id}/sends/resume`)).toMatchObject({ status: 200, body: { appId: app.id, resumed: false } });

    const listed = (await admin.get('/v1/apps')).body as Record<string, unknown>[];
    const mine = listed.find((a) => a.id === app.id);
    expect(mine).toEqual({ id: app.id, name: 'test-app', fcm: { projectId: 'test-proj', hasServiceAccount: false }, settings: app.settings, createdAt: expect.any(String) });
    expect(JSON.stringify(listed)).not.toMatch(/KeyHash|writeKey|serverKey|identitySecret/);

    // Paged one app at a time, following Link: every app of the unpaged answer once, in the same order.
    expect(listed.length).toBeGreaterThanOrEqual(2);
    const paged: Record<string, unknown>[] = [];
    let path: string | null = '/v1/apps?limit=1';
    while (path) {
      const page = await admin.get(path);
      expect([page.status, page.body.length]).toEqual([200, 1]);
      paged.push(...page.body);
      path = /<([^>]+)>;\s*rel="next"/.exec(page.headers.get('link') ?? '')?.[1] ?? null;
    }
    expect(paged.map((a) => a.id)).toEqual(listed.map((a) => a.id));
    expect((await admin.get('/v1/apps?after=eyJ4IjoxfQ')).body.error.details).toEqual([{ field: 'after', reason: expect.any(String) }]);
  });

  it('an app paused on credential errors sends again once resumed', async () => {
    const app = await stack.createApp();
    const write = api(stack.url, app.writeKey);
    const server = api(stack.url, app.serverKey);
    // Ten devices answering THIRD_PARTY_AUTH_ERROR in one batch: the credentials look broken, the app is paused.
    const userId = 'paused-user';
    for (let i = 0; i < 10; i++) await register(write, 'thirdparty', userId);
    const broken = await push(server, { userId });
    expect(broken.targeted).toBe(10);
    const outcomes = await finishedPush(server, broken);
    expect(outcomes.every((o) => o.outcome === 'failed')).toBe(true);

    const healthy = await register(write, 'ok');
    const whilePaused = await push(server, { deviceId: healthy.id });
    expect(await finishedPush(server, whilePaused)).toMatchObject([{ deviceId: healthy.id, outcome: 'failed', reason: 'app_paused:credentials' }]);
    expect(sim.requestsFor(healthy.token)).toEqual([]);
    expect(await server.get(`/v1/apps/${app.id}/sends`)).toMatchObject({ status: 200, body: { appId: app.id, paused: true, reason: 'credentials' } });

    expect(await server.post(`/v1/apps/${app.id}/sends/resume`)).toMatchObject({ status: 200, body: { appId: app.id, resumed: true } });
    expect(await server.get(`/v1/apps/${app.id}/sends`)).toMatchObject({ status: 200, body: { appId: app.id, paused: false, reason: null } });
    const resumed = await push(server, { deviceId: healthy.id });
    expect(await finishedPush(server, resumed)).toMatchObject([{ deviceId: healthy.id, outcome: 'sent' }]);
    expect(sim.requestsFor(healthy.token).map((r) => r.status)).toEqual([200]);
  });
});

/** Raw bytes (keys, values, headers) of every message of every topic in this namespace, up to their ends now. */
async function topicBytes(suffix: string): Promise<string> {
  return (await scanTopics(suffix)).map((m) => `${m.key}\n${m.value}\n${m.headers}`).join('\n');
}

async function mongoBytes(uri: string): Promise<string> {
  const connection = await mongoose.createConnection(uri).asPromise();
  try {
    const db = connection.db!;
    const docs: Buffer[] = [];
    for (const { name } of await db.listCollections().toArray()) {
      for await (const doc of db.collection(name).find({}, { raw: true } as object)) docs.push(Buffer.from(doc as unknown as Uint8Array));
    }
    return Buffer.concat(docs).toString('latin1');
  } finally {
    await connection.close();
  }
}

/** Every row of every table of the database, as PostgreSQL's text form of the row. */
async function postgresText(url: string): Promise<string> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const { rows: tables } = await c.query<{ s: string; t: string }>(`SELECT table_schema AS s, table_name AS t FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`);
    const out: string[] = [];
    for (const { s, t } of tables) {
      const { rows } = await c.query<{ r: string }>(`SELECT x::text AS r FROM ${c.escapeIdentifier(s)}.${c.escapeIdentifier(t)} x`);
      out.push(...rows.map((r) => r.r));
    }
    return out.join('\n');
  } finally {
    await c.end();
  }
}
