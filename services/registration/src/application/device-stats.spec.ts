import { randomUUID } from 'crypto';
import type { StoredEvent } from '@pushledger/event-store';
import { countDaily, DeviceCensus, emptyDays } from './device-stats';

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
    const days = emptyDays('2025-01-01', '2025-01-03');
    countDaily(days, registered('a', '2025-01-01T23:59:59.999Z'));
    countDaily(days, registered('b', '2025-01-02T00:00:00.000+00:00'));
    countDaily(days, stored('device-app_x-a', 'TokenRefreshed', '2025-01-02T10:00:00Z', {}));
    countDaily(days, stored('device-app_x-a', 'TokenInvalidated', '2025-01-03T10:00:00Z', {}));
    countDaily(days, stored('device-app_x-a', 'TokenExpired', '2025-01-04T10:00:00Z', {}));
    expect([...days.values()]).toEqual([
      { date: '2025-01-01', registered: 1, invalidated: 0, expired: 0 },
      { date: '2025-01-02', registered: 2, invalidated: 0, expired: 0 },
      { date: '2025-01-03', registered: 0, invalidated: 1, expired: 0 },
    ]);
  });
});
