import { randomUUID } from 'crypto';
import type { StoredEvent } from '@pushledger/event-store';
import { deviceFactsFor, factsUntil, historyEntry } from './history';

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
const registered = (id: string, at: string) => stored(`device-app_x-${id}`, 'TokenRegistered', at, { deviceId: id, token: `t-${id}-abcdefghijklmnop`, provider: 'fcm', platform: 'android', claim: 1, attributes, pushEnabled: true });

describe('history from the streams', () => {
  it('keeps the facts up to asOf, inclusive, and stops at the first later one', () => {
    const es = ['2025-01-01T00:00:00Z', '2025-01-02T00:00:00Z', '2025-01-03T00:00:00Z'].map((t) => stored('device-app_x-d', 'DeviceSeen', t, {}));
    expect(factsUntil(es, new Date('2025-01-02T00:00:00Z'))).toHaveLength(2);
    expect(factsUntil(es, new Date('2024-12-31T00:00:00Z'))).toHaveLength(0);
    const skewed = [es[0], es[2], es[1]];
    expect(factsUntil(skewed, new Date('2025-01-02T12:00:00Z'))).toEqual([es[0]]);
  });

  it('exports only the user’s own facts of a device they no longer have, and hides other people’s pii', () => {
    const es = [registered('d', '2025-01-01T00:00:00Z'), stored('device-app_x-d', 'Identified', '2025-01-02T00:00:00Z', { deviceId: 'd', pii: { userId: 'me' } }), stored('device-app_x-d', 'Identified', '2025-01-03T00:00:00Z', { deviceId: 'd', pii: { userId: 'other' } })];
    expect(deviceFactsFor('me', es, false).map((e) => e.type)).toEqual(['Identified']);
    const linked = deviceFactsFor('me', es, true);
    expect(linked).toHaveLength(3);
    expect(JSON.stringify(linked.map((e) => e.data))).not.toContain('"userId":"other"');
  });

  it('shows a fact with its position as text and its token masked', () => {
    const e = registered('m', '2025-01-01T00:00:00Z');
    const entry = historyEntry(e);
    expect(entry).toMatchObject({ type: 'TokenRegistered', occurredAt: '2025-01-01T00:00:00Z', position: e.position.toString(), revision: 0 });
    expect(JSON.stringify(entry)).not.toContain('t-m-abcdefghijklmnop');
    expect((entry.data as { token: string }).token).toMatch(/^t-m-ab…/);
  });
});
