import { DeviceEventTypes, tokenHash, UserEventTypes } from '@pushledger/contracts';
import { PostgresEventStore, type StoredEvent } from '@pushledger/event-store';
import { InMemoryKeyStore, kidOf, PrivacyEventStore, unseal, type Sealed } from '@pushledger/privacy';
import { maskToken } from '@pushledger/observability';
import { createTestDatabase, createTestMongo } from '@pushledger/testing';
import { deviceViewOf, userViewOf } from './documents';
import { dbOf, Generations, Layout, type Db } from './generations';
import { Projection, PROJECTED_STREAM_PREFIXES } from './projection';
import { Projector } from './projector';
import { ReadModels } from './read-models';
import { canonical, Driver, expectedDocuments, readGeneration, writeEveryFactType } from './test/lifecycle-script';

const APP = 'app_lifecycle';
const OTHER = 'app_other';

describe('read-model projection on FerretDB', () => {
  let pg: Awaited<ReturnType<typeof createTestDatabase>>;
  let mongo: Awaited<ReturnType<typeof createTestMongo>>;
  let store: PostgresEventStore;
  let db: Db;
  let all: StoredEvent[];

  beforeAll(async () => {
    pg = await createTestDatabase('rm_proj');
    mongo = await createTestMongo('rm_proj');
    store = await PostgresEventStore.connect({ connectionString: pg.url, polling: { pollIntervalMs: 200 } });
    db = await dbOf(mongo.connection);
    await writeEveryFactType(new Driver(store, APP, new Date('2025-01-01T00:00:00Z')));
    // Same ids in another app: tenancy must keep them apart.
    const other = new Driver(store, OTHER, new Date('2025-01-01T00:00:00Z'));
    await other.register('d1', 'tok-1', { platform: 'web' });
    await other.device('d1', { type: 'Identify', userId: 'u1' });
    all = [];
    for await (const e of store.readAll({ filter: { streamPrefixes: PROJECTED_STREAM_PREFIXES } })) all.push(e);
  });
  afterAll(async () => {
    await store?.close();
    await mongo?.drop();
    await pg?.drop();
  });

  it('the scenario writes every device and user fact type', () => {
    const types = new Set(all.map((e) => e.type));
    for (const t of [...DeviceEventTypes, ...UserEventTypes]) expect(types).toContain(t);
  });

  it('the projector lands every fact: documents equal the domain fold of each stream', async () => {
    const projector = new Projector(store, db, { partitions: 3 });
    await projector.start();
    const reader = new ReadModels(mongo.connection, { pointerTtlMs: 0 });
    expect(await reader.waitForPosition(all[all.length - 1].position, { timeoutMs: 30000 })).toBe(true);
    await projector.stop();

    const layout = (await reader.layout())!;
    expect(layout.generation.partitions).toBe(3);
    const got = await readGeneration(layout);
    const want = await expectedDocuments(store);
    expect([...got.devices.keys()].sort()).toEqual([...want.devices.keys()].sort());
    for (const [id, doc] of want.devices) expect(canonical(got.devices.get(id))).toEqual(canonical(doc));
    expect([...got.users.keys()].sort()).toEqual([...want.users.keys()].sort());
    for (const [id, doc] of want.users) expect(canonical(got.users.get(id))).toEqual(canonical(doc));

    // Spot checks through the reader, per fact.
    const d1 = (await reader.device(APP, 'd1'))!;
    expect(d1).toMatchObject({ id: 'd1', appId: APP, userId: 'u4', platform: 'ios', provider: 'apns', token: 'tok-1b', status: 'invalid', lastStatus: 'unused', pushEnabled: false, appVersion: '2.2.0-beta.1' });
    expect(d1.revision).toBe(all.filter((e) => e.stream === `device-${APP}-d1`).length);
    expect(await reader.device(APP, 'd2')).toMatchObject({ token: null, status: 'invalid', userId: 'u1' }); // TokenReleased
    expect(await reader.deviceDoc(APP, 'd4')).toMatchObject({ token: null, tokenHash: null, status: 'unregistered', userId: null }); // DeviceUnregistered, after LoggedOut
    expect(await reader.device(OTHER, 'd1')).toMatchObject({ appId: OTHER, platform: 'web', userId: 'u1' });
    const d1doc = (await reader.deviceDoc(APP, 'd1'))!;
    expect(d1doc.appVersionSort).toBe('00000002.00000002.00000000.00000000-beta.00000001');
    expect(d1doc.tokenHash).toHaveLength(32);

    const u1 = (await reader.user(APP, 'u1'))!;
    expect(u1).toMatchObject({ id: 'u1', unsubscribed: false, erased: false, deviceIds: ['d2'] });
    expect(u1.traits).toEqual({ plan: 'pro', 'name.first': 'Ann', $weird: 1, nested: { 'a.b': [1, { $c: true }] } });
    expect(u1.topics).toEqual({ news: false, offers: false, weekly: true }); // UserTopicsChanged, only changes, merged
    expect((await reader.userDevices(APP, 'u1')).map((d) => d.id)).toEqual(['d2']);
    expect((await reader.userDevices(APP, 'u4')).map((d) => [d.id, d.status])).toEqual([['d1', 'invalid']]);
    expect(await reader.userDevices(APP, 'u3')).toEqual([]); // DeviceDetached
    expect(await reader.user(APP, 'u2')).toMatchObject({ erased: false, traits: {}, topics: {}, deviceIds: [] }); // erased (forgets traits, topics and links), lifted
    expect(await reader.user(APP, 'u5')).toMatchObject({ unsubscribed: true, traits: { plan: 'team', age: 41 } });
    expect((await reader.userDoc(APP, 'u5'))!.devices.map((d) => [d.id, d.platform])).toEqual([['d3', 'web']]);
    expect(await reader.user(OTHER, 'u1')).toBeNull(); // no user fact in that app: only its device names u1
    expect((await reader.userDevices(OTHER, 'u1')).map((d) => d.appId)).toEqual([OTHER]);
  });

  it('redelivered, duplicated and out-of-order facts leave the same documents', async () => {
    const gens = new Generations(db);
    const clean = await gens.create(2);
    const messy = await gens.create(2);
    const inOrder = new Projection(new Layout(db, clean), store);
    await inOrder.apply(all);
    await inOrder.flush();

    // Every fact twice, chunks overlapping, neighbours swapped, and a cold restart (new instance, empty cache) half way.
    // Any seed will do whose shuffle leaves a gap to repair (asserted at the end); 42 no longer did once the scenario grew.
    let rng = 7;
    const random = () => ((rng = (rng * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const shuffled: StoredEvent[] = [];
    for (let i = 0; i < all.length; i++) {
      shuffled.push(all[i]);
      if (random() < 0.5) shuffled.push(all[Math.floor(random() * (i + 1))]);
    }
    for (let i = 0; i + 1 < shuffled.length; i += 2) if (random() < 0.4) [shuffled[i], shuffled[i + 1]] = [shuffled[i + 1], shuffled[i]];
    let projection = new Projection(new Layout(db, messy), store);
    for (let i = 0; i < shuffled.length; ) {
      const size = 1 + Math.floor(random() * 7);
      await projection.apply(shuffled.slice(i, i + size));
      await projection.flush();
      i += size;
      if (i > shuffled.length / 2 && i - size <= shuffled.length / 2) projection = new Projection(new Layout(db, messy), store);
    }
    // The whole log once more, from a cold start.
    const replay = new Projection(new Layout(db, messy), store);
    await replay.apply(all);
    await replay.flush();
    expect(replay.stats.duplicates).toBe(all.length);

    const a = await readGeneration(new Layout(db, clean));
    const b = await readGeneration(new Layout(db, messy));
    expect(b.devices.size).toBe(a.devices.size);
    for (const [id, doc] of a.devices) expect(canonical(b.devices.get(id))).toEqual(canonical(doc));
    expect(b.users.size).toBe(a.users.size);
    for (const [id, doc] of a.users) expect(canonical(b.users.get(id))).toEqual(canonical(doc));
    expect(projection.stats.gapsRepaired + inOrder.stats.gapsRepaired).toBeGreaterThan(0);
  });

  it('views read back exactly as toDeviceView / toUserView give them', async () => {
    const want = await expectedDocuments(store, APP);
    const reader = new ReadModels(db, { pointerTtlMs: 0 });
    for (const [, doc] of want.devices) expect(await reader.device(APP, doc.id)).toEqual(deviceViewOf(doc));
    for (const [, doc] of want.users) if (doc.userId !== null) expect(await reader.user(APP, doc.userId)).toEqual(userViewOf({ ...doc, v: '' }));
  });

  it('pseudonymised user streams (libs/privacy): documents keyed by pseudonym, an erasure forgets the user everywhere, like a rebuild', async () => {
    const PRIV = 'app_private';
    const inner = await PostgresEventStore.connect({ connectionString: pg.url, schema: 'private_es' });
    const priv = new PrivacyEventStore(inner, new InMemoryKeyStore());
    try {
      const d = new Driver(priv, PRIV, new Date('2025-03-01T00:00:00Z'));
      await d.register('p1', 'tok-p1');
      await d.device('p1', { type: 'Identify', userId: 'alice' });
      await d.user('alice', { type: 'UpdateTraits', traits: { plan: 'pro' } });
      await d.register('p2', 'tok-p2');
      await d.device('p2', { type: 'Identify', userId: 'bob' });
      await d.user('bob', { type: 'LinkDevice', deviceId: 'p2', deviceRevision: 2, lastSeenAt: d.now.toISOString(), knownLastSeen: {}, maxDevicesPerUser: 5 });
      await d.user('bob', { type: 'UpdateTraits', traits: { plan: 'free', email: 'bob@example.com' } });
      await d.register('p3', 'tok-p3');
      await d.device('p3', { type: 'Identify', userId: 'bob' }); // not linked on bob's stream yet: the read model knows it from the device

      const gens = new Generations(db);
      const live = await gens.create(2);
      const projection = new Projection(new Layout(db, live), priv);
      const before: StoredEvent[] = [];
      for await (const e of priv.readAll({ filter: { streamPrefixes: PROJECTED_STREAM_PREFIXES } })) before.push(e);
      await projection.apply(before);
      await projection.flush();

      const reader = new ReadModels(db, { pointerTtlMs: 0, store: priv });
      const alicePseudo = await priv.pseudonym(PRIV, 'alice');
      const aliceDoc = await new Layout(db, live).usersFor(`${PRIV}:~${alicePseudo}`).findOne({ _id: `${PRIV}:~${alicePseudo}` });
      expect(aliceDoc).toMatchObject({ userId: 'alice', traits: { plan: 'pro' }, deviceCount: 1 });
      // Tokens kept sealed with the device's key, shown masked, in the device's document and its owner's summary.
      const p1 = await new Layout(db, live).devicesFor(`${PRIV}:p1`).findOne({ _id: `${PRIV}:p1` });
      expect(p1).toMatchObject({ token: maskToken('tok-p1'), tokenHash: tokenHash('tok-p1') });
      expect(JSON.stringify([p1, aliceDoc])).not.toContain('"tok-p1"');
      const opened = async (text: unknown) => {
        const sealed: Sealed = { $enc: text as string };
        const kid = kidOf(sealed)!;
        return unseal(sealed, 'token', (await priv.keys.keysById([kid])).get(kid)!);
      };
      expect(await opened(p1!.sealedToken)).toBe('tok-p1');
      expect(await opened(aliceDoc!.devices[0].sealedToken)).toBe('tok-p1');

      await d.user('bob', { type: 'EraseUser' });
      const after: StoredEvent[] = [];
      for await (const e of priv.readAll({ filter: { streamPrefixes: PROJECTED_STREAM_PREFIXES }, afterPosition: before[before.length - 1].position })) after.push(e);
      await projection.apply(after);
      await projection.flush();

      const a = await readGeneration(new Layout(db, live));
      expect([...a.users.keys()].some((k) => k.endsWith(':alice') || k.endsWith(':bob'))).toBe(false);
      expect(JSON.stringify([...a.users.values(), ...a.devices.values()])).not.toMatch(/bob/);
      expect(a.devices.get(`${PRIV}:p2`)?.userId).toBeNull();
      expect(a.devices.get(`${PRIV}:p2`)).toMatchObject({ token: null, sealedToken: null });
      expect(a.devices.get(`${PRIV}:p3`)?.userId).toBeNull();

      // Rebuilt from scratch (every fact of bob's now reads as nobody's), and folded by the domain: the same documents.
      const rebuilt = await gens.create(2);
      const fresh = new Projection(new Layout(db, rebuilt), priv, { authoritative: true });
      await fresh.apply([...before, ...after]);
      await fresh.flush();
      const b = await readGeneration(new Layout(db, rebuilt));
      const want = await expectedDocuments(priv, PRIV);
      for (const [got, label] of [[b, 'rebuild'], [want, 'fold']] as const) {
        expect([label, [...got.devices.keys()].sort()]).toEqual([label, [...a.devices.keys()].sort()]);
        expect([label, [...got.users.keys()].sort()]).toEqual([label, [...a.users.keys()].sort()]);
        for (const [id, doc] of a.devices) expect([label, canonical(got.devices.get(id))]).toEqual([label, canonical(doc)]);
        for (const [id, doc] of a.users) expect([label, canonical(got.users.get(id))]).toEqual([label, canonical(doc)]);
      }

      // Readers name users in clear: with the store, one point read (an erased user included).
      await gens.activate(live);
      expect(await reader.user(PRIV, 'alice')).toMatchObject({ id: 'alice', traits: { plan: 'pro' }, erased: false });
      expect((await reader.userDevices(PRIV, 'alice')).map((x) => x.id)).toEqual(['p1']);
      expect(await reader.user(PRIV, 'bob')).toMatchObject({ id: 'bob', erased: true, traits: {}, deviceIds: [] });
      expect(await reader.userDevices(PRIV, 'bob')).toEqual([]);
      const blind = new ReadModels(db, { pointerTtlMs: 0 });
      expect(await blind.user(PRIV, 'alice')).toMatchObject({ id: 'alice', traits: { plan: 'pro' } });
      expect(await blind.user(PRIV, 'bob')).toBeNull();
    } finally {
      await priv.close();
    }
  });
});

