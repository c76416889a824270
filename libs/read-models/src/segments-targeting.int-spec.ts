import { tokenHash } from '@pushledger/contracts';
import { PostgresEventStore, type StoredEvent } from '@pushledger/event-store';
import { createTestDatabase, createTestMongo } from '@pushledger/testing';
import { dbOf, Generations, Layout } from './generations';
import { Projection, PROJECTED_STREAM_PREFIXES } from './projection';
import { ReadModels } from './read-models';
import { segmentFilter } from './segments/compile-rules';
import { validateRules } from './segments/segment-rules';
import { targetStream, type AudienceTarget, type TargetOptions, type TargetPair } from './targeting';
import { Driver } from './test/lifecycle-script';

const NOW = new Date('2025-06-01T12:00:00.000Z');
const DAY = 86_400_000;
const SEG = 'app_segments';
const TGT = 'app_targets';
const ago = (days: number) => new Date(NOW.getTime() - days * DAY);

/** Users alice, bob, carol (unsubscribed), dave (no device), erin (erased), frank (stale device). */
async function segmentPopulation(d: Driver): Promise<void> {
  d.now = ago(100);
  await d.register('f1', 'tok-f1', { attributes: { appVersion: '1.0' } });
  await d.device('f1', { type: 'Identify', userId: 'frank' });
  d.now = ago(40);
  await d.register('a2', 'tok-a2', { platform: 'ios', provider: 'apns', attributes: { appVersion: '2.2.0', osVersion: '16.0', locale: 'es-ES' }, pushEnabled: true });
  await d.device('a2', { type: 'Identify', userId: 'alice' });
  d.now = ago(1);
  await d.register('a1', 'tok-a1', { platform: 'ios', provider: 'apns', attributes: { appVersion: '2.3.0', osVersion: '17.4', locale: 'es-ES', model: 'iPhone15,2' }, pushEnabled: true });
  await d.device('a1', { type: 'Identify', userId: 'alice' });
  await d.register('b1', 'tok-b1', { attributes: { appVersion: '1.9.0', locale: 'fr-FR', model: 'Pixel 8' } });
  await d.device('b1', { type: 'Identify', userId: 'bob' });
  await d.register('b2', 'tok-b2', { platform: 'web', attributes: { appVersion: '2.0.0-beta.1', locale: 'fr-FR' }, pushEnabled: false });
  await d.device('b2', { type: 'Identify', userId: 'bob' });
  await d.register('c1', 'tok-c1', { attributes: { appVersion: '2.10.0', locale: 'en-GB' } });
  await d.device('c1', { type: 'Identify', userId: 'carol' });
  await d.register('e1', 'tok-e1');
  await d.device('e1', { type: 'Identify', userId: 'erin' });
  await d.register('x1', 'tok-x1');
  await d.user('alice', { type: 'UpdateTraits', traits: { plan: 'pro', age: 34, country: 'ES', tags: ['beta', 'vip'], signedUpAt: ago(5).toISOString() } });
  await d.user('bob', { type: 'UpdateTraits', traits: { plan: 'free', age: 19, country: 'FR', tags: ['news'] } });
  await d.user('carol', { type: 'UpdateTraits', traits: { plan: 'pro', age: 52, 'name.first': 'Carol' } });
  await d.user('carol', { type: 'Unsubscribe' });
  await d.user('dave', { type: 'UpdateTraits', traits: { plan: 'team' } });
  await d.user('erin', { type: 'UpdateTraits', traits: { plan: 'pro' } });
  await d.user('erin', { type: 'EraseUser' });
  await d.device('e1', { type: 'AnonymiseDevice', userId: 'erin' });
}

describe('segments and targeting on FerretDB', () => {
  let pg: Awaited<ReturnType<typeof createTestDatabase>>;
  let mongo: Awaited<ReturnType<typeof createTestMongo>>;
  let store: PostgresEventStore;
  let reader: ReadModels;

  beforeAll(async () => {
    pg = await createTestDatabase('rm_seg');
    mongo = await createTestMongo('rm_seg');
    store = await PostgresEventStore.connect({ connectionString: pg.url });
    await segmentPopulation(new Driver(store, SEG));
    // The same people in another app, to prove tenancy; plus invalid and suppressed devices there.
    const t = new Driver(store, TGT);
    await segmentPopulation(t);
    await t.register('g1', 'tok-g1');
    await t.device('g1', { type: 'Identify', userId: 'grace' });
    await t.device('g1', { type: 'InvalidateToken', tokenHash: tokenHash('tok-g1'), reason: 'UNREGISTERED', messageId: null });
    await t.register('h1', 'tok-h1');
    await t.device('h1', { type: 'Identify', userId: 'henry' });
    await t.device('h1', { type: 'RecordPushBounced', tokenHash: tokenHash('tok-h1'), messageId: 'm1', reason: 'UNAVAILABLE' });
    await t.device('h1', { type: 'RecordPushBounced', tokenHash: tokenHash('tok-h1'), messageId: 'm2', reason: 'UNAVAILABLE' });
    // Deleted registrations: one was ivy's, one anonymous. Gone for every target, counted nowhere.
    await t.register('i1', 'tok-i1');
    await t.device('i1', { type: 'Identify', userId: 'ivy' });
    await t.device('i1', { type: 'UnregisterDevice' });
    await t.register('z1', 'tok-z1');
    await t.device('z1', { type: 'UnregisterDevice' });

    const db = await dbOf(mongo.connection);
    const gen = await new Generations(db).ensureActive(3);
    const events: StoredEvent[] = [];
    for await (const e of store.readAll({ filter: { streamPrefixes: PROJECTED_STREAM_PREFIXES } })) events.push(e);
    const projection = new Projection(new Layout(db, gen), store);
    await projection.apply(events);
    await projection.flush();
    reader = new ReadModels(mongo.connection, { store });
  });
  afterAll(async () => {
    await store?.close();
    await mongo?.drop();
    await pg?.drop();
  });

  const users = async (rules: unknown): Promise<string[]> => {
    const preview = await reader.preview(SEG, validateRules(rules), { now: NOW, staleAfterDays: 60 });
    expect(preview.sample.length).toBe(Math.min(preview.count, 20));
    return preview.sample.sort();
  };

  it('preview: everyone but the erased', async () => {
    expect(await users({ all: [] })).toEqual(['alice', 'bob', 'carol', 'dave', 'frank']);
    expect(await users({ any: [] })).toEqual([]);
  });

  it('preview: trait operators', async () => {
    expect(await users({ trait: 'plan', op: 'eq', value: 'pro' })).toEqual(['alice', 'carol']);
    expect(await users({ trait: 'plan', op: 'ne', value: 'pro' })).toEqual(['bob', 'dave', 'frank']);
    expect(await users({ trait: 'age', op: 'gt', value: 34 })).toEqual(['carol']);
    expect(await users({ trait: 'age', op: 'gte', value: 34 })).toEqual(['alice', 'carol']);
    expect(await users({ trait: 'age', op: 'lt', value: 34 })).toEqual(['bob']);
    expect(await users({ trait: 'age', op: 'lte', value: 34 })).toEqual(['alice', 'bob']);
    expect(await users({ trait: 'country', op: 'in', value: ['ES', 'FR'] })).toEqual(['alice', 'bob']);
    expect(await users({ trait: 'country', op: 'exists' })).toEqual(['alice', 'bob']);
    expect(await users({ trait: 'country', op: 'exists', value: false })).toEqual(['carol', 'dave', 'frank']);
    expect(await users({ trait: 'tags', op: 'contains', value: 'vi' })).toEqual(['alice']);
    expect(await users({ trait: 'name.first', op: 'contains', value: 'aro' })).toEqual(['carol']);
    expect(await users({ trait: 'signedUpAt', op: 'within_days', value: 10 })).toEqual(['alice']);
    expect(await users({ trait: 'signedUpAt', op: 'older_than_days', value: 3 })).toEqual(['alice']);
    expect(await users({ trait: 'signedUpAt', op: 'older_than_days', value: 6 })).toEqual([]);
  });

  it('preview: device operators (true when one of the user’s devices matches)', async () => {
    expect(await users({ device: 'platform', op: 'eq', value: 'ios' })).toEqual(['alice']);
    expect(await users({ device: 'platform', op: 'ne', value: 'android' })).toEqual(['alice', 'bob']);
    expect(await users({ device: 'platform', op: 'in', value: ['web'] })).toEqual(['bob']);
    expect(await users({ device: 'provider', op: 'eq', value: 'apns' })).toEqual(['alice']);
    expect(await users({ device: 'status', op: 'eq', value: 'active' })).toEqual(['alice', 'bob', 'carol', 'frank']);
    expect(await users({ device: 'lastStatus', op: 'ne', value: 'unused' })).toEqual([]);
    expect(await users({ device: 'pushEnabled', op: 'eq', value: false })).toEqual(['bob']);
    expect(await users({ device: 'pushEnabled', op: 'ne', value: false })).toEqual(['alice', 'bob', 'carol', 'frank']);
    expect(await users({ device: 'pushEnabled', op: 'exists' })).toEqual(['alice', 'bob']);
    expect(await users({ device: 'model', op: 'contains', value: 'Pixel' })).toEqual(['bob']);
    expect(await users({ device: 'model', op: 'exists', value: false })).toEqual(['alice', 'bob', 'carol', 'frank']);
    expect(await users({ device: 'locale', op: 'eq', value: 'fr-FR' })).toEqual(['bob']);
    expect(await users({ device: 'locale', op: 'ne', value: 'es-ES' })).toEqual(['bob', 'carol', 'frank']);
    expect(await users({ device: 'locale', op: 'gt', value: 'f' })).toEqual(['bob']);
    expect(await users({ device: 'lastSeenAt', op: 'older_than_days', value: 60 })).toEqual(['frank']);
    expect(await users({ device: 'lastSeenAt', op: 'within_days', value: 7 })).toEqual(['alice', 'bob', 'carol']);
    expect(await users({ device: 'registeredAt', op: 'lt', value: ago(30).toISOString() })).toEqual(['alice', 'frank']);
  });

  it('preview: versions compare as semver (2.10.0 > 2.3.0, 2.0.0-beta.1 < 2.0.0)', async () => {
    expect(await users({ device: 'appVersion', op: 'semver_lt', value: '2.0.0' })).toEqual(['bob', 'frank']);
    expect(await users({ device: 'appVersion', op: 'semver_gte', value: '2.3.0' })).toEqual(['alice', 'carol']);
    expect(await users({ device: 'appVersion', op: 'semver_gte', value: '2.10' })).toEqual(['carol']);
    expect(await users({ device: 'appVersion', op: 'lt', value: '1.9.1' })).toEqual(['bob', 'frank']);
    expect(await users({ device: 'osVersion', op: 'semver_gte', value: '17' })).toEqual(['alice']);
    expect(await users({ device: 'osVersion', op: 'semver_lt', value: '17' })).toEqual(['alice']);
    expect(await users({ device: 'appVersion', op: 'eq', value: '2.0.0-beta.1' })).toEqual(['bob']);
  });

  it('preview: nesting, not, eligibleDevice', async () => {
    expect(await users({ not: { device: 'platform', op: 'eq', value: 'android' } })).toEqual(['alice', 'dave']);
    expect(await users({ any: [{ all: [{ trait: 'plan', op: 'eq', value: 'pro' }, { device: 'platform', op: 'eq', value: 'ios' }] }, { trait: 'age', op: 'lt', value: 20 }] })).toEqual(['alice', 'bob']);
    expect(await users({ all: [{ not: { trait: 'plan', op: 'eq', value: 'free' } }, { not: { any: [{ trait: 'plan', op: 'eq', value: 'team' }, { device: 'lastSeenAt', op: 'older_than_days', value: 60 }] } }] })).toEqual(['alice', 'carol']);
    // carol is unsubscribed, frank's only device is stale, dave has none.
    expect(await users({ eligibleDevice: true })).toEqual(['alice', 'bob']);
    expect(await users({ not: { eligibleDevice: true } })).toEqual(['carol', 'dave', 'frank']);
  });

  it('preview counts beyond the sample size', async () => {
    const preview = await reader.preview(SEG, null, { now: NOW, staleAfterDays: 60 }, 2);
    expect(preview).toMatchObject({ count: 5 });
    expect(preview.sample).toHaveLength(2);
  });

  it('an estimated count scales up the partitions it counted; with time to spare it counts them all, exactly', async () => {
    const ctx = { now: NOW, staleAfterDays: 60 };
    const exact = await reader.preview(SEG, null, ctx);
    expect(exact.estimate).toBeUndefined();
    const layout = (await reader.layout())!;
    const perPartition = await Promise.all(layout.allUsers().map((c) => c.countDocuments(segmentFilter(SEG, null, ctx))));
    expect(perPartition).toHaveLength(3);
    expect(perPartition.reduce((a, b) => a + b, 0)).toBe(exact.count);
    // No budget: one round, two partitions at once.
    const quick = await reader.preview(SEG, null, ctx, 20, { budgetMs: 0 });
    const seen = perPartition[0] + perPartition[1];
    expect(quick.estimate).toEqual({ partitionsCounted: 2, partitions: 3, margin: expect.any(Number) });
    expect(quick.count).toBe(Math.round((seen * 3) / 2));
    expect(quick.sample).toEqual(exact.sample);
    const unhurried = await reader.preview(SEG, null, ctx, 20, { budgetMs: 3_600_000 });
    expect(unhurried).toEqual(exact);
  });

  const options = (over: Partial<TargetOptions> = {}): TargetOptions => ({ transactional: false, devicePolicy: null, appPolicy: 'all', staleAfterDays: 60, now: NOW, ...over });
  const collect = async (target: AudienceTarget, over: Partial<TargetOptions> = {}) => {
    const stream = await reader.targets(TGT, target, options(over));
    const pairs: TargetPair[] = [];
    for await (const p of stream) pairs.push(p);
    return { pairs: pairs.map((p) => `${p.user?.id ?? '-'}/${p.device.id}`).sort(), raw: pairs, stats: stream.stats };
  };

  it('a marketing broadcast excludes anonymous, invalid, stale, suppressed, push-disabled and unsubscribed devices, counted by reason', async () => {
    const { pairs, raw, stats } = await collect({ kind: 'everyone' });
    expect(pairs).toEqual(['alice/a1', 'alice/a2', 'bob/b1']);
    expect(stats.skipped).toEqual({ anonymous: 2, invalid: 1, stale: 1, suppressed: 1, push_disabled: 1, unsubscribed: 1 });
    expect(stats.targeted).toBe(3);
    expect(stats.users).toBe(7);
    const a1 = raw.find((p) => p.device.id === 'a1')!;
    expect(a1.device).toMatchObject({ appId: TGT, userId: 'alice', token: 'tok-a1', platform: 'ios', appVersion: '2.3.0', locale: 'es-ES' });
    expect(a1.user).toEqual({ id: 'alice', traits: expect.objectContaining({ plan: 'pro', country: 'ES' }) });
  });

  it('a transactional target keeps the unsubscribed user’s devices', async () => {
    const { pairs, stats } = await collect({ kind: 'everyone' }, { transactional: true });
    expect(pairs).toEqual(['alice/a1', 'alice/a2', 'bob/b1', 'carol/c1']);
    expect(stats.skipped.unsubscribed).toBeUndefined();
    const one = await collect({ kind: 'device', deviceId: 'c1' }, { transactional: true });
    expect(one.pairs).toEqual(['carol/c1']);
    expect((await collect({ kind: 'device', deviceId: 'c1' })).stats.skipped).toEqual({ unsubscribed: 1 });
  });

  it('device policies choose among eligible devices; segments, user lists and tokens as targets', async () => {
    const last = await collect({ kind: 'everyone' }, { devicePolicy: 'last_active' });
    expect(last.pairs).toEqual(['alice/a1', 'bob/b1']);
    expect(last.stats.skipped.not_chosen).toBe(1);
    const recent = await collect({ kind: 'everyone' }, { appPolicy: 'most_recent' });
    expect(recent.pairs).toEqual(['alice/a1', 'bob/b1']);

    const seg = await collect({ kind: 'segment', rules: validateRules({ trait: 'country', op: 'eq', value: 'FR' }) });
    expect(seg.pairs).toEqual(['bob/b1']);
    expect(seg.stats).toMatchObject({ users: 1, targeted: 1, skipped: { push_disabled: 1 } });

    const list = await collect({ kind: 'users', userIds: ['alice', 'nobody', 'alice', 'erin'] });
    expect(list.pairs).toEqual(['alice/a1', 'alice/a2']);
    expect(list.stats.notFound).toBe(1);

    // A token or device target reaches an anonymous device (never a user target).
    const anon = await collect({ kind: 'token', token: 'tok-x1' });
    expect(anon.pairs).toEqual(['-/x1']);
    expect((await collect({ kind: 'token', token: 'tok-g1' })).stats.skipped).toEqual({ invalid: 1 });
    expect((await collect({ kind: 'device', deviceId: 'nope' })).stats.notFound).toBe(1);
  });

  it('an unregistered device is gone for every target, like one that never existed', async () => {
    for (const target of [{ kind: 'device', deviceId: 'i1' }, { kind: 'device', deviceId: 'z1' }, { kind: 'token', token: 'tok-i1' }, { kind: 'users', userIds: ['ivy'] }] as AudienceTarget[]) {
      const { pairs, stats } = await collect(target, { transactional: true });
      expect([target, pairs, stats]).toEqual([target, [], { users: 0, targeted: 0, skipped: {}, notFound: 1 }]);
    }
    // The broadcast above counts two anonymous devices (x1 and e1): z1 and i1 are not among them.
    expect((await collect({ kind: 'everyone' })).stats.skipped.anonymous).toBe(2);
  });

  it('ownerless devices are counted by the projector as reading every device counts them, and a batch replayed after its documents were lost counts nothing twice', async () => {
    const db = await dbOf(mongo.connection);
    const layout = (await reader.layout())!;
    const counted = await layout.ownerless()!.get(TGT);
    expect(counted).toEqual({ no_token: 0, invalid: 0, anonymous: 2 });
    const everyone = async (l: Layout) => {
      const stream = targetStream(l, TGT, { kind: 'everyone' }, options(), async () => null);
      for await (const _ of stream) void _;
      return stream.stats.skipped;
    };
    // A generation made before the counters reads every device: the same answer.
    const unCounted = new Layout(db, { id: layout.generation.id, partitions: layout.generation.partitions });
    expect(unCounted.ownerless()).toBeNull();
    const scanned = await everyone(unCounted);
    expect(await everyone(layout)).toEqual(scanned);
    expect(scanned).toMatchObject({ anonymous: 2 });

    // The counters are written before the device documents: lose the documents, replay the batch.
    for (const c of layout.allDevices()) await c.deleteMany({ appId: TGT });
    const events: StoredEvent[] = [];
    for await (const e of store.readAll({ filter: { streamPrefixes: PROJECTED_STREAM_PREFIXES } })) events.push(e);
    const replay = new Projection(layout, store);
    await replay.apply(events);
    await replay.flush();
    expect(await layout.ownerless()!.get(TGT)).toEqual(counted);
    expect(await everyone(layout)).toEqual(scanned);
    expect(await everyone(unCounted)).toEqual(scanned);
  });
});
