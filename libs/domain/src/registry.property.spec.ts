import fc from 'fast-check';
import { deviceStream, isDeviceEvent, tokenHash, type DeviceEvent, type PushledgerEvent } from '@pushledger/contracts';
import { InMemoryRegistry } from '../test/in-memory-registry';
import { DeviceNotFoundError, TokenInvalidatedError, UserErasedError } from './domain-errors';
import { toDeviceView } from './device.view';
import { planSend } from './device-choice';
import { DAY_MS, HOUR_MS, isPastStaleWindow } from './time';

// A small world so that collisions (same token, same device, same user) happen often.
const APP = 'app_prop';
const DEVICES = ['d1', 'd2', 'd3'];
const TOKENS = ['t1', 't2', 't3', 't4'];
const USERS = ['user:ann', 'user:bob', 'user:cy'];
const MESSAGES = ['m1', 'm2', 'm3', 'm4', 'm5'];
const SETTINGS = { devicePolicy: 'all', staleAfterDays: 3, maxDevicesPerUser: 2 } as const;

type Action =
  | { kind: 'register'; device: string; token: string; userId: string | null; pushEnabled: boolean | null; appVersion: string }
  | { kind: 'identify'; device: string; userId: string }
  | { kind: 'logout'; device: string; expectedOwner: string | null }
  | { kind: 'outcome'; device: string; messageId: string; bounced: boolean; token: string | null }
  | { kind: 'invalidate'; token: string; reportedBy: string | null }
  | { kind: 'seen'; device: string }
  | { kind: 'expire'; device: string | null }
  | { kind: 'erase'; userId: string }
  | { kind: 'lift'; userId: string }
  | { kind: 'unsubscribe'; userId: string }
  | { kind: 'advance'; ms: number };

const device = fc.constantFrom(...DEVICES);
const token = fc.constantFrom(...TOKENS);
const user = fc.constantFrom(...USERS);
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('register' as const), device, token, userId: fc.option(user, { freq: 2 }), pushEnabled: fc.constantFrom(true, false, null), appVersion: fc.constantFrom('1.0', '1.1') }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('identify' as const), device, userId: user }) },
  // null: log out whoever owns the device now (what the gateway fills in).
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('logout' as const), device, expectedOwner: fc.option(user) }) },
  // token null: the device's current token (the usual case); else possibly an outdated one.
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('outcome' as const), device, messageId: fc.constantFrom(...MESSAGES), bounced: fc.boolean(), token: fc.option(token, { freq: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('invalidate' as const), token, reportedBy: fc.option(device) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('seen' as const), device }) },
  // device set: the job's query was out of date and names a device that may have been seen since.
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('expire' as const), device: fc.option(device) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('erase' as const), userId: user }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('lift' as const), userId: user }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unsubscribe' as const), userId: user }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.constantFrom(60_000, HOUR_MS / 2, 2 * HOUR_MS, DAY_MS, 4 * DAY_MS) }) },
);

function apply(r: InMemoryRegistry, a: Action, now: Date): void {
  switch (a.kind) {
    case 'register':
      return r.register(
        { deviceId: a.device, token: a.token, provider: 'fcm', platform: 'android', attributes: { appVersion: a.appVersion }, pushEnabled: a.pushEnabled, userId: a.userId },
        now,
      );
    case 'identify':
      return r.identify(a.device, a.userId, { plan: 'pro' }, now);
    case 'logout': {
      const owner = a.expectedOwner ?? r.device(a.device)?.userId ?? null;
      if (owner !== null) r.logout(a.device, owner, now);
      return;
    }
    case 'outcome': {
      const sentTo = a.token ?? r.device(a.device)?.token ?? null;
      if (sentTo === null) return;
      const common = { appId: APP, deviceId: a.device, tokenHash: tokenHash(sentTo), messageId: a.messageId };
      r.onDevice(a.bounced ? { ...common, type: 'RecordPushBounced', reason: 'UNAVAILABLE' } : { ...common, type: 'RecordPushSent' }, now);
      return;
    }
    case 'invalidate':
      return r.invalidate(a.token, { deviceId: a.reportedBy, reason: 'UNREGISTERED', messageId: null }, now);
    case 'seen':
      r.onDevice({ type: 'MarkSeen', appId: APP, deviceId: a.device }, now);
      return;
    case 'expire':
      if (a.device === null) return r.expireStale(now);
      r.onDevice({ type: 'ExpireToken', appId: APP, deviceId: a.device, staleAfterDays: SETTINGS.staleAfterDays }, now);
      return;
    case 'erase':
      return r.erase(a.userId, now);
    case 'lift':
      return r.onUser({ type: 'LiftErasure', appId: APP, userId: a.userId }, now);
    case 'unsubscribe':
      return r.onUser({ type: 'Unsubscribe', appId: APP, userId: a.userId }, now);
    case 'advance':
      return;
    default: {
      const _exhaustive: never = a;
      return;
    }
  }
}

/** Expected rejections leave the store as it was; anything else is a bug. */
function applyOrReject(r: InMemoryRegistry, a: Action, now: Date): void {
  const before = r.eventCount();
  const deadToken = a.kind === 'register' && (r.token(a.token)?.retired ?? false);
  try {
    apply(r, a, now);
    expect({ registeredDeadToken: deadToken }).toEqual({ registeredDeadToken: false });
  } catch (e) {
    if (!(e instanceof TokenInvalidatedError || e instanceof UserErasedError || e instanceof DeviceNotFoundError)) throw e;
    expect({ rejectedWith: e.name, newEvents: r.eventCount() - before }).toEqual({ rejectedWith: e.name, newEvents: 0 });
  }
}

function checkInvariants(r: InMemoryRegistry, now: Date): void {
  const devices = r.deviceIds().map((id) => r.device(id)!);
  const users = r.userIds().map((id) => r.user(id)!);

  // One device per token, and it is the device the token stream names.
  const holders = new Map<string, string>();
  for (const d of devices) {
    if (d.token === null) continue;
    expect({ token: d.token, alsoHeldBy: holders.get(d.token) ?? null }).toEqual({ token: d.token, alsoHeldBy: null });
    holders.set(d.token, d.deviceId);
    expect(r.token(d.token)?.ownerDeviceId).toBe(d.deviceId);
  }

  // Invalid tokens are never active again.
  for (const d of devices) {
    if (d.token !== null && (r.token(d.token)?.retired || d.invalidatedTokens.includes(d.token))) expect(d.status).toBe('invalid');
    // Stale only while really unseen: any sighting revives.
    if (d.status === 'stale') expect([d.token !== null, isPastStaleWindow(d.lastSeenAt, now, SETTINGS.staleAfterDays)]).toEqual([true, true]);
  }

  // One owner per device, and the user streams agree with the device streams.
  for (const d of devices) {
    const listing = users.filter((u) => d.deviceId in u.devices).map((u) => u.userId);
    expect({ device: d.deviceId, listedBy: listing }).toEqual({ device: d.deviceId, listedBy: d.userId === null ? [] : [d.userId] });
  }
  for (const u of users) {
    expect(Object.keys(u.devices).length).toBeLessThanOrEqual(SETTINGS.maxDevicesPerUser);
    if (u.erased) expect(devices.filter((d) => d.userId === u.userId)).toEqual([]);
  }

  // Suppressed only after two consecutive bounces (replayed from the facts, independently of evolve).
  for (const d of devices) {
    let run = 0;
    for (const e of r.history(deviceStream(APP, d.deviceId)) as DeviceEvent[]) {
      if (e.type === 'PushBounced') run += 1;
      if (e.type === 'PushSent' || e.type === 'DeliveryStatusReset' || e.type === 'TokenRefreshed' || e.type === 'TokenReleased') run = 0;
      if (e.type === 'DeviceSuppressed') expect(run).toBeGreaterThanOrEqual(2);
    }
    if (d.lastStatus === 'suppressed') expect(run).toBeGreaterThanOrEqual(2);
    expect(toDeviceView(d).revision).toBe(r.history(deviceStream(APP, d.deviceId)).length);
  }

  // A user-targeted send reaches only the user's own reachable devices.
  const views = devices.map(toDeviceView);
  const consent = new Map(users.map((u) => [u.userId, u]));
  for (const userId of USERS) {
    const plan = planSend(views.filter((v) => v.userId === userId), consent, { to: { userId }, transactional: false, devicePolicy: null }, 'all', { now, staleAfterDays: SETTINGS.staleAfterDays });
    for (const v of plan.targeted) {
      expect(v).toMatchObject({ userId, status: 'active', token: expect.any(String) });
      expect(v.lastStatus).not.toBe('suppressed');
      expect([consent.get(userId)?.erased, consent.get(userId)?.unsubscribed]).not.toContain(true);
    }
  }

  // Personal data only under `pii`.
  for (const events of r.streams.values()) {
    for (const e of events as PushledgerEvent[]) {
      const { pii: _pii, ...rest } = e.data as { pii?: unknown };
      const text = JSON.stringify(rest);
      for (const u of USERS) expect(text.includes(u) ? `${e.type} carries ${u} outside pii` : 'ok').toBe('ok');
      if (isDeviceEvent(e) && (e.type === 'Identified' || e.type === 'LoggedOut' || e.type === 'DeviceDetached')) expect(USERS).toContain(e.data.pii.userId);
    }
  }
}

describe('registry properties (random command sequences over a small world)', () => {
  it('keeps the invariants after every step, and every step is idempotent', () => {
    fc.assert(
      fc.property(fc.array(action, { minLength: 1, maxLength: 60 }), (actions) => {
        const r = new InMemoryRegistry(APP, SETTINGS);
        let now = new Date('2025-03-01T08:00:00.000Z');
        for (const a of actions) {
          if (a.kind === 'advance') now = new Date(now.getTime() + a.ms);
          applyOrReject(r, a, now);
          checkInvariants(r, now);
          // The same command again, at the same time, records nothing new.
          const count = r.eventCount();
          applyOrReject(r, a, now);
          expect(r.eventCount()).toBe(count);
        }
      }),
      { numRuns: 250 },
    );
  });

  it('reaches the interesting states (guards against a generator that never gets there)', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(fc.array(action, { minLength: 20, maxLength: 60 }), (actions) => {
        const r = new InMemoryRegistry(APP, SETTINGS);
        let now = new Date('2025-03-01T08:00:00.000Z');
        for (const a of actions) {
          if (a.kind === 'advance') now = new Date(now.getTime() + a.ms);
          applyOrReject(r, a, now);
        }
        for (const events of r.streams.values()) for (const e of events) seen.add(e.type);
      }),
      { numRuns: 150 },
    );
    expect([...seen].sort()).toEqual(
      expect.arrayContaining([
        'DeviceDetached',
        'DeviceSuppressed',
        'DeviceAnonymised',
        'DeliveryStatusReset',
        'LoggedOut',
        'TokenExpired',
        'TokenInvalidated',
        'TokenReleased',
        'TokenRevived',
        'UserDeviceUnlinked',
        'UserErased',
      ]),
    );
  });
});
