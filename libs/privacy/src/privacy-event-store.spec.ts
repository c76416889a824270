import { randomUUID } from 'crypto';
import { deviceStream, type DeviceEvent, type UserEvent, userStream } from '@pushledger/contracts';
import { deviceDecider, userDecider, type DeviceState, type UserState } from '@pushledger/domain';
import { InMemoryEventStore, type NewEvent, type StoredEvent } from '@pushledger/event-store';
import { StreamExecutor } from '@pushledger/lifecycle';
import { DeviceFlows } from '../../../services/registration/src/application/device-flows';
import { UserFlows } from '../../../services/identity/src/application/user-flows';
import { InMemoryKeyStore } from './key-store.port';
import { PrivacyEventStore } from './privacy-event-store';

const APP = 'app_privacy';
const TOKEN = 'fcm-token-of-alice-0123456789abcdefghijklmnopqrstuvwxyz';
const T0 = new Date('2025-01-01T10:00:00Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);
const meta = (n: number) => ({ commandId: randomUUID(), appId: APP, issuedAt: at(n).toISOString() });

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

function setup() {
  const inner = new InMemoryEventStore();
  const keys = new InMemoryKeyStore();
  const store = new PrivacyEventStore(inner, keys);
  const exec = new StreamExecutor(store);
  return { inner, keys, store, exec, devices: new DeviceFlows(exec), users: new UserFlows(exec) };
}

type Setup = ReturnType<typeof setup>;

/** Register a device and identify alice on it (which links it in her stream), then give her traits. */
async function aliceWithPhone(s: Setup): Promise<void> {
  await s.devices.handle({ ...meta(0), type: 'RegisterToken', deviceId: 'phone', token: TOKEN, provider: 'fcm', platform: 'android', attributes: { appVersion: '1.0.0' }, pushEnabled: true, userId: 'alice' }, at(0));
  await s.users.handle({ ...meta(1), type: 'UpdateTraits', userId: 'alice', traits: { email: 'alice@example.com', plan: 'gold' } }, at(1));
}

const rawLog = async (s: Setup) => JSON.stringify(await collect(s.inner.readAll()), (_, v) => (typeof v === 'bigint' ? v.toString() : v));
const fold = <S, E>(decider: { initialState: S; evolve: (s: S, e: E) => S }, events: StoredEvent[]) =>
  events.reduce((st, e) => decider.evolve(st, { type: e.type, data: e.data } as E), decider.initialState);

describe('PrivacyEventStore', () => {
  it('stores no user id, trait or token in clear, and reads them back decrypted', async () => {
    const s = setup();
    await aliceWithPhone(s);
    const raw = await rawLog(s);
    for (const secret of ['alice', 'alice@example.com', 'gold', TOKEN]) expect(raw).not.toContain(secret);
    expect(raw).toContain('"$enc"');

    const device = (await s.devices.device(APP, 'phone'))!;
    expect(device).toMatchObject({ userId: 'alice', token: TOKEN, status: 'active' });
    const user = (await s.users.view(APP, 'alice'))!;
    expect(user).toMatchObject({ id: 'alice', traits: { email: 'alice@example.com', plan: 'gold' }, deviceIds: ['phone'], erased: false });

    const replayed = await collect(s.store.readAll());
    expect(JSON.stringify(replayed, (_, v) => (typeof v === 'bigint' ? v.toString() : v))).toContain('alice@example.com');
    const userStreams = new Set(replayed.filter((e) => e.stream.startsWith('user-')).map((e) => e.stream));
    expect([...userStreams]).toEqual([await s.store.storedStreamName(userStream(APP, 'alice'))]);
    expect([...userStreams][0]).toMatch(new RegExp(`^user-${APP}-~[0-9a-f]{32}$`));
  });

  it('pseudonyms are stable per app and differ across apps', async () => {
    const s = setup();
    expect(await s.store.storedStreamName(userStream(APP, 'bob'))).toBe(await s.store.storedStreamName(userStream(APP, 'bob')));
    expect(await s.store.pseudonym(APP, 'bob')).not.toBe(await s.store.pseudonym('app_other', 'bob'));
    expect(await s.store.storedStreamName(deviceStream(APP, 'd1'))).toBe(deviceStream(APP, 'd1'));
  });

  it('reads a user stream by the stored name it was replayed under; no user id can pose as one', async () => {
    const s = setup();
    await aliceWithPhone(s);
    const stored = await s.store.storedStreamName(userStream(APP, 'alice'));
    expect(await s.store.storedStreamName(stored)).toBe(stored);
    const byStoredName = await s.store.readStream(stored);
    expect(byStoredName.map((e) => e.eventId)).toEqual((await s.store.readStream(userStream(APP, 'alice'))).map((e) => e.eventId));
    expect((byStoredName[0].data as { pii: unknown }).pii).toMatchObject({ userId: 'alice' });

    // A user whose id is alice's pseudonym gets a stream of their own.
    const impostor = stored.slice(`user-${APP}-`.length);
    expect(userStream(APP, impostor)).toBe(`user-${APP}-~${impostor}`);
    await s.users.handle({ ...meta(5), type: 'UpdateTraits', userId: impostor, traits: { x: 1 } }, at(5));
    expect(await s.store.storedStreamName(userStream(APP, impostor))).not.toBe(stored);
    expect((await s.users.view(APP, impostor))!).toMatchObject({ id: impostor, traits: { x: 1 } });
    expect((await s.users.view(APP, 'alice'))!.traits).toEqual({ email: 'alice@example.com', plan: 'gold' });
  });

  it('decrypts for subscribers, one event or a batch at a time', async () => {
    const s = setup();
    await aliceWithPhone(s);
    const single: StoredEvent[] = [];
    const batches: StoredEvent[] = [];
    let caught = 0;
    const a = s.store.subscribeToAll({ onEvent: (e) => void single.push(e), onCaughtUp: () => caught++ });
    const b = s.store.subscribeToAll({ onBatch: (es) => void batches.push(...es), onCaughtUp: () => caught++ });
    while (caught < 2) await new Promise((r) => setTimeout(r, 5));
    await a.stop();
    await b.stop();
    const identified = single.find((e) => e.type === 'Identified')!;
    expect((identified.data as { pii: unknown }).pii).toEqual({ userId: 'alice' });
    expect((batches.find((e) => e.type === 'TokenRegistered')!.data as { token: string }).token).toBe(TOKEN);
  });

  it('after erasure nothing of the user reads back, and every fold still works', async () => {
    const s = setup();
    await aliceWithPhone(s);
    const erased = await s.users.handle({ ...meta(3), type: 'EraseUser', userId: 'alice' }, at(3));
    expect(erased.view).toMatchObject({ id: 'alice', erased: true, traits: {} });
    // The device was anonymised before the key went (a fact without pii, for projections); the follow-up is a no-op now.
    expect((await s.store.readStream(deviceStream(APP, 'phone'))).map((e) => e.type)).toContain('DeviceAnonymised');
    expect(erased.dispatch).toEqual([expect.objectContaining({ type: 'AnonymiseDevice', deviceId: 'phone', userId: 'alice' })]);
    const revision = (await s.devices.device(APP, 'phone'))!.revision;
    await s.devices.handle(erased.dispatch[0] as never, at(4));
    expect((await s.devices.device(APP, 'phone'))!.revision).toBe(revision);

    const replay = JSON.stringify(await collect(s.store.readAll()), (_, v) => (typeof v === 'bigint' ? v.toString() : v));
    for (const secret of ['alice', 'alice@example.com', 'gold', TOKEN]) expect(replay).not.toContain(secret);

    const device = (await s.devices.device(APP, 'phone'))!;
    expect(device).toMatchObject({ userId: null, token: null, platform: 'android', attributes: expect.objectContaining({ appVersion: '1.0.0' }) });
    const user = (await s.users.view(APP, 'alice'))!;
    expect(user).toMatchObject({ id: 'alice', erased: true, traits: {}, deviceIds: [] });

    // Folding the whole log (a rebuilt read model) does not crash and shows nobody.
    const all = await collect(s.store.readAll());
    const d = fold<DeviceState | null, DeviceEvent>(deviceDecider, all.filter((e) => e.stream === deviceStream(APP, 'phone')));
    expect(d).toMatchObject({ userId: null, token: null });
    const u = fold<UserState | null, UserEvent>(userDecider, all.filter((e) => e.stream.startsWith(`user-${APP}-`)));
    expect(u).toMatchObject({ userId: null, erased: true, traits: {} });

    // Erasing again is a no-op; the id stays suppressed.
    await expect(s.users.handle({ ...meta(5), type: 'EraseUser', userId: 'alice' }, at(5))).resolves.toMatchObject({ view: { erased: true } });
    await expect(s.devices.handle({ ...meta(5), type: 'RegisterToken', deviceId: 'tablet', token: 'other-token-xxxxxxxxxxxxxxxxxxxx', provider: 'fcm', platform: 'ios', attributes: {}, pushEnabled: null, userId: 'alice' }, at(5))).rejects.toThrow();
  });

  it('a device registering again after erasure gets a new key; lifting the erasure gives the user a new key', async () => {
    const s = setup();
    await aliceWithPhone(s);
    await s.users.handle({ ...meta(3), type: 'EraseUser', userId: 'alice' }, at(3));
    const fresh = 'fresh-token-after-erasure-abcdefghijklmnop';
    const view = await s.devices.handle({ ...meta(4), type: 'RegisterToken', deviceId: 'phone', token: fresh, provider: 'fcm', platform: 'android', attributes: {}, pushEnabled: null, userId: null }, at(4));
    expect(view.token).toBe(fresh);
    expect((await s.devices.device(APP, 'phone'))!.token).toBe(fresh);

    // pii written for an erased user (a late unlink) is not readable either.
    await s.store.appendToStream(userStream(APP, 'alice'), [late('UserDeviceUnlinked', { appId: APP, at: at(5).toISOString(), deviceId: 'x', deviceRevision: 9, reason: 'logout', pii: { userId: 'alice' } })], { expectedRevision: 'any' });
    expect(await rawAndReplayContain(s, 'alice')).toBe(false);

    await s.users.handle({ ...meta(6), type: 'LiftErasure', userId: 'alice' }, at(6));
    const lifted = await s.users.handle({ ...meta(7), type: 'UpdateTraits', userId: 'alice', traits: { plan: 'silver' } }, at(7));
    expect(lifted.view).toMatchObject({ id: 'alice', erased: false, traits: { plan: 'silver' } });
    const replay = JSON.stringify(await collect(s.store.readAll()), (_, v) => (typeof v === 'bigint' ? v.toString() : v));
    expect(replay).toContain('silver');
    expect(replay).not.toContain('gold');
  });

  it('destroys the keys before UserErased is stored; an erasure that failed half-way completes on retry', async () => {
    const s = setup();
    await aliceWithPhone(s);
    const destroy = jest.spyOn(s.keys, 'destroy').mockRejectedValueOnce(new Error('crashed'));
    await expect(s.users.handle({ ...meta(3), type: 'EraseUser', userId: 'alice' }, at(3))).rejects.toThrow('crashed');
    destroy.mockRestore();
    expect((await s.store.readStream(userStream(APP, 'alice'))).map((e) => e.type)).not.toContain('UserErased');
    const again = await s.users.handle({ ...meta(3), type: 'EraseUser', userId: 'alice' }, at(3));
    expect(again.view).toMatchObject({ erased: true, traits: {} });
    expect(await rawAndReplayContain(s, 'alice@example.com')).toBe(false);
    expect((await s.devices.device(APP, 'phone'))!).toMatchObject({ token: null, userId: null });

    // A subscriber woken by the stored fact already finds nothing to open.
    const seen: StoredEvent[] = [];
    const sub = s.store.subscribeToAll({ onEvent: (e) => void seen.push(e) });
    while (!seen.some((e) => e.type === 'UserErased')) await new Promise((r) => setTimeout(r, 5));
    await sub.stop();
    expect(JSON.stringify(seen.find((e) => e.type === 'UserErased')!.data)).not.toContain('alice');
  });

  it('passes events without personal data through unchanged', async () => {
    const s = setup();
    const e: NewEvent = { eventId: randomUUID(), type: 'AppCreated', data: { appId: APP, name: 'x' }, metadata: { appId: APP, correlationId: 'c', causationId: 'c', occurredAt: T0.toISOString(), schemaVersion: 1 } };
    await s.store.appendToStream(`app-${APP}`, [e], { expectedRevision: 'no_stream' });
    expect((await s.inner.readStream(`app-${APP}`))[0].data).toEqual(e.data);
    expect((await s.store.readStream(`app-${APP}`))[0].data).toEqual(e.data);
    expect(s.keys.liveKeys()).toBe(0);
  });

  it('refuses pii that does not name its data subject', async () => {
    const s = setup();
    await expect(s.store.appendToStream(deviceStream(APP, 'd'), [late('Identified', { appId: APP, deviceId: 'd', at: T0.toISOString(), pii: { email: 'x@y' } })], { expectedRevision: 'any' })).rejects.toThrow(/pii\.userId/);
  });
});

function late(type: string, data: Record<string, unknown>): NewEvent {
  return { eventId: randomUUID(), type, data, metadata: { appId: APP, correlationId: 'c', causationId: randomUUID(), occurredAt: String(data.at), schemaVersion: 1 } };
}

async function rawAndReplayContain(s: Setup, text: string): Promise<boolean> {
  const replay = JSON.stringify(await collect(s.store.readAll()), (_, v) => (typeof v === 'bigint' ? v.toString() : v));
  return replay.includes(text) || (await rawLog(s)).includes(text);
}
