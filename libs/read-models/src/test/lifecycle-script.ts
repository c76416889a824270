/**
 * Test support: drives the domain deciders over a real event store so that every device and user fact
 * type gets written, and folds the store back into the documents the read models must hold.
 */
import { deviceStream, parseStream, tokenHash, userStream, type DeviceEvent, type UserEvent } from '@pushledger/contracts';
import { deviceDecider, userDecider, type DeviceCommand, type UserCommand } from '@pushledger/domain';
import type { EventStore } from '@pushledger/event-store';
import { StreamExecutor } from '@pushledger/lifecycle';
import { randomUUID } from 'crypto';
import { maskToken } from '@pushledger/observability';
import { deviceStateOf, emptyUserDoc, foldDeviceFact, foldUserFact, forgetOwner, forgetToken, summaryOf, upsertDevice, type DeviceDoc, type UserDoc } from '../documents';
import { isShreddingStore, userKeysOf } from '../keys';
import type { Layout } from '../generations';
import { PROJECTED_STREAM_PREFIXES } from '../projection';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type DeviceStep = DistributiveOmit<DeviceCommand, 'appId' | 'deviceId'>;
export type UserStep = DistributiveOmit<UserCommand, 'appId' | 'userId'>;

const HOUR = 3600_000;

/** Runs decider commands on streams, with a clock the caller moves. */
export class Driver {
  readonly exec: StreamExecutor;
  now: Date;

  constructor(
    readonly store: EventStore,
    readonly appId: string,
    start = new Date(),
  ) {
    this.exec = new StreamExecutor(store);
    this.now = start;
  }

  tick(ms = HOUR + 1000): this {
    this.now = new Date(this.now.getTime() + ms);
    return this;
  }

  async device(deviceId: string, command: DeviceStep): Promise<DeviceEvent[]> {
    const full = { ...command, appId: this.appId, deviceId } as DeviceCommand;
    const r = await this.exec.execute(deviceDecider, deviceStream(this.appId, deviceId), full, { appId: this.appId, commandId: randomUUID(), step: 'device', now: this.now });
    return r.events;
  }

  async user(userId: string, command: UserStep): Promise<UserEvent[]> {
    const full = { ...command, appId: this.appId, userId } as UserCommand;
    const r = await this.exec.execute(userDecider, userStream(this.appId, userId), full, { appId: this.appId, commandId: randomUUID(), step: 'user', now: this.now });
    return r.events;
  }

  register(deviceId: string, token: string, extra: Partial<Extract<DeviceStep, { type: 'RegisterToken' }>> = {}): Promise<DeviceEvent[]> {
    return this.device(deviceId, { type: 'RegisterToken', token, provider: 'fcm', platform: 'android', claim: 1, attributes: {}, pushEnabled: null, ...extra });
  }
}

/** Writes every device and user fact type at least once (device ids `d1`..`d4`, users `u1`..`u5`). */
export async function writeEveryFactType(d: Driver): Promise<void> {
  await d.register('d1', 'tok-1', { attributes: { model: 'Pixel 7', osVersion: '14', appVersion: '2.1.0', locale: 'en-GB', timezone: 'Europe/London' } });
  await d.tick().device('d1', { type: 'MarkSeen' }); // DeviceSeen
  await d.tick().device('d1', { type: 'UpdateDeviceAttributes', attributes: { appVersion: '2.2.0-beta.1' } });
  await d.tick().device('d1', { type: 'ChangePushPermission', pushEnabled: false });
  await d.tick().device('d1', { type: 'Identify', userId: 'u1' });
  await d.tick().device('d1', { type: 'Identify', userId: 'u2' }); // LoggedOut(moved) + Identified
  await d.tick().device('d1', { type: 'RecordPushSent', tokenHash: tokenHash('tok-1'), messageId: 'm1' });
  await d.tick().device('d1', { type: 'RecordPushBounced', tokenHash: tokenHash('tok-1'), messageId: 'm2', reason: 'UNAVAILABLE' });
  await d.tick().device('d1', { type: 'RecordPushBounced', tokenHash: tokenHash('tok-1'), messageId: 'm3', reason: 'UNAVAILABLE' }); // + DeviceSuppressed
  await d.tick().register('d1', 'tok-1'); // DeliveryStatusReset (+ DeviceSeen)
  await d.tick().register('d1', 'tok-1', { claim: 2 }); // TokenReclaimed
  await d.tick(90 * 24 * HOUR).device('d1', { type: 'ExpireToken', staleAfterDays: 60 });
  await d.tick().device('d1', { type: 'MarkSeen' }); // TokenRevived
  await d.tick().device('d1', { type: 'Logout', expectedOwner: 'u2' });
  await d.tick().register('d1', 'tok-1b', { platform: 'ios', provider: 'apns' }); // TokenRefreshed
  await d.tick().device('d1', { type: 'Identify', userId: 'u3' });
  await d.tick().device('d1', { type: 'DetachDevice', expectedOwner: 'u3', reason: 'max_devices' });
  await d.tick().device('d1', { type: 'Identify', userId: 'u4' });
  await d.tick().device('d1', { type: 'AnonymiseDevice', userId: 'u4' });
  await d.tick().device('d1', { type: 'Identify', userId: 'u4' });
  await d.tick().device('d1', { type: 'InvalidateToken', tokenHash: tokenHash('tok-1b'), reason: 'UNREGISTERED', messageId: null });

  await d.register('d2', 'tok-2', { platform: 'ios', provider: 'apns', attributes: { appVersion: '1.9.3', osVersion: '17.4.1' }, pushEnabled: true });
  await d.tick().device('d2', { type: 'Identify', userId: 'u1' });
  await d.tick().device('d2', { type: 'ReleaseToken', token: 'tok-2', toDeviceId: 'd3', claim: 2 });
  await d.register('d3', 'tok-2', { claim: 2, platform: 'web' });
  await d.tick().device('d3', { type: 'Identify', userId: 'u5' });

  const link = (deviceId: string, deviceRevision: number, max = 50) =>
    ({ type: 'LinkDevice', deviceId, deviceRevision, lastSeenAt: d.now.toISOString(), knownLastSeen: {}, maxDevicesPerUser: max }) as const;
  await d.user('u1', link('d1', 5));
  await d.tick().user('u1', { type: 'UnlinkDevice', deviceId: 'd1', deviceRevision: 6, reason: 'moved' });
  await d.user('u1', link('d2', 2));
  await d.user('u1', { type: 'UpdateTraits', traits: { plan: 'pro', 'name.first': 'Ann', $weird: 1, nested: { 'a.b': [1, { $c: true }] } } });
  await d.user('u1', { type: 'Unsubscribe' });
  await d.tick().user('u1', { type: 'Resubscribe' });
  await d.user('u1', { type: 'ChangeTopics', topics: { news: false, offers: true } });
  await d.tick().user('u1', { type: 'ChangeTopics', topics: { offers: false, weekly: true } });
  await d.user('u2', link('d1', 7));
  await d.user('u2', link('dX', 3, 1)); // evicts d1: UserDeviceUnlinked(max_devices)
  await d.user('u2', { type: 'UpdateTraits', traits: { plan: 'free' } });
  await d.user('u2', { type: 'ChangeTopics', topics: { news: false } });
  await d.user('u2', { type: 'EraseUser' });
  await d.user('u2', { type: 'LiftErasure' });
  await d.user('u5', { type: 'UpdateTraits', traits: { plan: 'team', age: 41 } });
  await d.user('u5', { type: 'Unsubscribe' });
  // Last, so the facts before keep their order (the shuffle test draws per fact).
  await d.register('d4', 'tok-4');
  await d.tick().device('d4', { type: 'Identify', userId: 'u1' });
  await d.tick().device('d4', { type: 'UnregisterDevice' }); // LoggedOut(unregistered) + DeviceUnregistered
}

/** What the read models must hold, folded straight from the store (user documents keyed as the projection keys them). */
export async function expectedDocuments(store: EventStore, appId?: string): Promise<{ devices: Map<string, DeviceDoc>; users: Map<string, Omit<UserDoc, 'v'>> }> {
  const userKey = userKeysOf(store);
  const devices = new Map<string, DeviceDoc>();
  const users = new Map<string, UserDoc>();
  for await (const e of store.readAll({ filter: { streamPrefixes: PROJECTED_STREAM_PREFIXES } })) {
    const p = parseStream(e.stream)!;
    if (appId && p.appId !== appId) continue;
    const key = `${p.appId}:${p.id}`;
    if (p.category === 'device') {
      const d = foldDeviceFact(devices.get(key) ?? null, { type: e.type, data: e.data } as DeviceEvent, Number(e.streamRevision) + 1, e.position);
      if (d) devices.set(key, d);
      continue;
    }
    users.set(key, foldUserFact(users.get(key) ?? emptyUserDoc(p.appId, null, p.id), { type: e.type, data: e.data } as UserEvent, Number(e.streamRevision) + 1, isShreddingStore(store)));
    if (e.type !== 'UserErased' || !isShreddingStore(store)) continue;
    // The erased user's devices forget them (every device naming them at that point); listed devices lose their token.
    const listed = new Set((e.data as { deviceIds: string[] }).deviceIds);
    for (const [k, d] of devices) {
      if (d.appId !== p.appId) continue;
      let next = listed.has(d.id) ? forgetToken(d, e.position) : d;
      if (next.userId !== null && (await userKey(d.appId, next.userId)) === p.id) next = forgetOwner(next, e.position);
      devices.set(k, next);
    }
  }
  for (const d of devices.values()) {
    if (d.userId === null) continue;
    const userKeyOf = await userKey(d.appId, d.userId);
    const k = `${d.appId}:${userKeyOf}`;
    users.set(k, upsertDevice(users.get(k) ?? emptyUserDoc(d.appId, d.userId, userKeyOf), summaryOf(deviceStateOf(d))));
  }
  const stripped = new Map<string, Omit<UserDoc, 'v'>>();
  for (const [k, u] of users) {
    if (u.revision === 0 && u.devices.length === 0) continue;
    const { v: _v, ...rest } = u;
    stripped.set(k, rest);
  }
  return { devices, users: stripped };
}

/** Every document of a generation, users without their write nonce. */
export async function readGeneration(layout: Layout): Promise<{ devices: Map<string, DeviceDoc>; users: Map<string, Omit<UserDoc, 'v'>> }> {
  const devices = new Map<string, DeviceDoc>();
  const users = new Map<string, Omit<UserDoc, 'v'>>();
  for (const c of layout.allDevices()) for (const d of await c.find({}).toArray()) devices.set(d._id, d);
  for (const c of layout.allUsers()) {
    for (const u of await c.find({}).toArray()) {
      const { v: _v, ...rest } = u;
      users.set(u._id, rest);
    }
  }
  return { devices, users };
}

/** Canonical JSON (sorted keys) for comparing documents regardless of field order. */
/**
 * A document as text, keys sorted; tokens as shown (masked) and sealed tokens left out: sealing draws a fresh
 * IV each time, and the domain's own fold keeps tokens whole.
 */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (k, v) => {
    if (k === 'sealedToken') return undefined;
    if (k === 'token' && typeof v === 'string') return maskToken(v);
    return v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v;
  });
}
