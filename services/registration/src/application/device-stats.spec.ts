import { randomUUID } from 'crypto';
import { InMemoryEventStore, type StoredEvent } from '@pushledger/event-store';
import { AppDeviceStats, DeviceCensus } from './device-stats';
import { DeviceStatsKeeper } from './device-stats.keeper';

let position = 0n;
const stored = (stream: string, type: string, occurredAt: string, data: Record<string, unknown>, revision = 0): StoredEvent => ({
  eventId: randomUUID(),
  type,
  stream,
  streamRevision: BigInt(revision),
  position: ++position,
  data: { appId: 'app_x', at: occurredAt, ...data },
  metadata: { appId: 'app_x', correlationId: 'c', causationId: 'c', occurredAt, schemaVersion: 1 },
});
const attributes = { model: null, osVersion: null, appVersion: '1.0', locale: null, timezone: null };
const registered = (id: string, at: string, platform = 'android') =>
  stored(`device-app_x-${id}`, 'TokenRegistered', at, { deviceId: id, token: `t-${id}`, provider: 'fcm', platform, claim: 1, attributes, pushEnabled: true });

describe('device analytics', () => {
  it('counts current state per device by status, last status, platform, provider and app version', () => {
    const census = new DeviceCensus();
    for (const e of [
      registered('a', '2025-01-01T00:00:00Z'),
      registered('b', '2025-01-01T00:00:00Z', 'ios'),
      stored('device-app_x-b', 'TokenExpired', '2025-03-01T00:00:00Z', { deviceId: 'b', token: 't-b', lastSeenAt: '2025-01-01T00:00:00Z', staleAfterDays: 30 }, 1),
      stored('device-app_x-a', 'PushSent', '2025-03-01T00:00:00Z', { deviceId: 'a', messageId: 'm1' }, 1),
      // Unregistered: gone, counted nowhere.
      registered('c', '2025-01-01T00:00:00Z', 'web'),
      stored('device-app_x-c', 'DeviceUnregistered', '2025-03-01T00:00:00Z', { deviceId: 'c', token: 't-c' }, 1),
    ]) census.apply(e);
    expect(census.counts()).toEqual({
      total: 2,
      byStatus: { active: 1, stale: 1, invalid: 0 },
      byLastStatus: { unused: 1, sent: 1, bounced: 0, suppressed: 0 },
      byPlatform: { android: 1, ios: 1 },
      byProvider: { fcm: 2 },
      byAppVersion: { '1.0': 2 },
    });
  });

  it('counts registered / invalidated / expired per UTC day within the range', () => {
    const stats = new AppDeviceStats();
    stats.apply(registered('a', '2025-01-01T23:59:59.999Z'));
    stats.apply(registered('b', '2025-01-02T00:00:00.000+00:00'));
    stats.apply(stored('device-app_x-a', 'TokenRefreshed', '2025-01-02T10:00:00Z', {}));
    stats.apply(stored('device-app_x-a', 'TokenInvalidated', '2025-01-03T10:00:00Z', {}));
    stats.apply(stored('device-app_x-a', 'TokenExpired', '2025-01-04T10:00:00Z', {}));
    expect(stats.daily('2025-01-01', '2025-01-03')).toEqual([
      { date: '2025-01-01', registered: 1, invalidated: 0, expired: 0 },
      { date: '2025-01-02', registered: 2, invalidated: 0, expired: 0 },
      { date: '2025-01-03', registered: 0, invalidated: 1, expired: 0 },
    ]);
    expect(stats.daily('2025-01-04', '2025-01-05')).toEqual([
      { date: '2025-01-04', registered: 0, invalidated: 0, expired: 1 },
      { date: '2025-01-05', registered: 0, invalidated: 0, expired: 0 },
    ]);
  });

  it('keeps no token, user id or attribute but the app version in the census it holds', () => {
    const census = new DeviceCensus();
    const e = registered('a', '2025-01-01T00:00:00Z');
    census.apply({ ...e, data: { ...(e.data as object), userId: 'user-secret', attributes: { ...attributes, model: 'Pixel secret', locale: 'de-DE' } } });
    const held = JSON.stringify([...(census as unknown as { devices: Map<string, unknown> }).devices.values()]);
    expect(held).not.toMatch(/t-a|user-secret|Pixel secret|de-DE/);
    expect(census.counts()).toMatchObject({ total: 1, byAppVersion: { '1.0': 1 } });
  });
});

describe('device stats kept per app', () => {
  const metadata = (occurredAt: string) => ({ appId: 'app_k', correlationId: 'c', causationId: 'c', occurredAt, schemaVersion: 1 });
  async function register(store: InMemoryEventStore, id: string, platform = 'android') {
    const at = '2025-02-01T00:00:00Z';
    await store.appendToStream(`device-app_k-${id}`, [{ eventId: randomUUID(), type: 'TokenRegistered', data: { appId: 'app_k', at, deviceId: id, token: `t-${id}`, provider: 'fcm', platform, claim: 1, attributes, pushEnabled: true }, metadata: metadata(at) }], { expectedRevision: 'any' });
  }

  it('folds only the facts after the last one it folded, and an ask counts every fact stored before it', async () => {
    const store = new InMemoryEventStore();
    const keeper = new DeviceStatsKeeper(store);
    await register(store, 'a');
    await register(store, 'b', 'ios');
    await store.appendToStream('device-app_other-z', [{ eventId: randomUUID(), type: 'TokenRegistered', data: { appId: 'app_other', at: '2025-02-01T00:00:00Z', deviceId: 'z', token: 't-z', provider: 'fcm', platform: 'web', claim: 1, attributes, pushEnabled: true }, metadata: metadata('2025-02-01T00:00:00Z') }], { expectedRevision: 'any' });
    expect((await keeper.of('app_k')).counts()).toMatchObject({ total: 2, byPlatform: { android: 1, ios: 1 } });

    const read = jest.spyOn(store, 'readAll');
    await register(store, 'c', 'web');
    const [first, second] = await Promise.all([keeper.of('app_k'), keeper.of('app_k')]);
    expect(first).toBe(second);
    expect(first.counts()).toMatchObject({ total: 3, byPlatform: { android: 1, ios: 1, web: 1 } });
    expect(first.daily('2025-02-01', '2025-02-01')).toEqual([{ date: '2025-02-01', registered: 3, invalidated: 0, expired: 0 }]);
    for (const [options] of read.mock.calls) expect(options).toMatchObject({ afterPosition: expect.any(BigInt) });
    await keeper.onApplicationShutdown();
  });
});
