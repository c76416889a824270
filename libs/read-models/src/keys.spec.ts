import fc from 'fast-check';
import { emptyUserDoc, removeDevice, upsertDevice, type DeviceSummary } from './documents';
import { decodeKey, decodeTraits, encodeKey, encodeTraits, partitionOf, versionSortKey } from './keys';

describe('field-name encoding', () => {
  it('round-trips any name and never yields a name FerretDB refuses', () => {
    fc.assert(
      fc.property(fc.string(), (name) => {
        const enc = encodeKey(name);
        expect(decodeKey(enc)).toBe(name);
        expect(enc).not.toContain('.');
        expect(enc.startsWith('$')).toBe(false);
        expect(enc.length).toBeGreaterThan(0);
      }),
    );
    expect(encodeKey('a.b')).toBe('a%2Eb');
    expect(encodeKey('$set')).toBe('%24set');
    expect(encodeKey('100%')).toBe('100%25');
  });

  it('encodes trait keys at every depth', () => {
    const traits = { 'a.b': { $c: [{ 'd.e': 1 }] }, plain: 'x.y' };
    expect(encodeTraits(traits)).toEqual({ 'a%2Eb': { '%24c': [{ 'd%2Ee': 1 }] }, plain: 'x.y' });
    expect(decodeTraits(encodeTraits(traits))).toEqual(traits);
  });
});

describe('version sort keys', () => {
  const ordered = ['0.9', '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', 'v1.0.1', '1.2', '1.10.0', '1.10.0.1', '2', '10.0.0'];
  it('sort like semver', () => {
    const keys = ordered.map((v) => versionSortKey(v)!);
    expect([...keys].sort()).toEqual(keys);
  });
  it('treat missing parts as zero and ignore build metadata', () => {
    expect(versionSortKey('2')).toBe(versionSortKey('2.0.0'));
    expect(versionSortKey('2.0.0+build.5')).toBe(versionSortKey('2.0.0'));
    expect(versionSortKey(' 14 ')).toBe('00000014.00000000.00000000.00000000~');
  });
  it('are null for text that is not a version', () => {
    for (const v of ['', 'latest', '1..2', '1.2.3.4.5', '123456789', null, undefined]) expect(versionSortKey(v)).toBeNull();
  });
});

describe('partitions', () => {
  it('spread ids evenly and stay stable', () => {
    const counts = new Array(8).fill(0);
    for (let i = 0; i < 8000; i++) counts[partitionOf(`app_x:user-${i}`, 8)]++;
    for (const c of counts) expect(c).toBeGreaterThan(800);
    expect(partitionOf('app_x:user-1', 8)).toBe(partitionOf('app_x:user-1', 8));
    expect(partitionOf('anything', 1)).toBe(0);
  });
});

describe('device summaries in a user document: the highest device revision wins', () => {
  const summary = (id: string, rev: number, extra: Partial<DeviceSummary> = {}): DeviceSummary => ({
    id,
    rev,
    platform: 'android',
    provider: 'fcm',
    token: 't',
    status: 'active',
    lastStatus: 'unused',
    pushEnabled: null,
    model: null,
    osVersion: null,
    appVersion: null,
    locale: null,
    timezone: null,
    registeredAt: '2025-01-01T00:00:00.000Z',
    lastSeenAt: `2025-01-0${Math.min(rev, 9)}T00:00:00.000Z`,
    tokenRegisteredAt: '2025-01-01T00:00:00.000Z',
    consecutiveBounces: 0,
    appVersionSort: null,
    osVersionSort: null,
    reachableSeenAt: null,
    ...extra,
  });

  it('ignores older or repeated summaries and removals', () => {
    let doc = upsertDevice(emptyUserDoc('a', 'u'), summary('d2', 3, { platform: 'ios' }));
    doc = upsertDevice(doc, summary('d1', 2));
    expect(doc.devices.map((d) => d.id)).toEqual(['d1', 'd2']);
    expect(doc).toMatchObject({ deviceCount: 2, platforms: ['android', 'ios'], lastSeenAt: '2025-01-03T00:00:00.000Z' });
    expect(upsertDevice(doc, summary('d2', 3, { platform: 'web' }))).toBe(doc);
    expect(upsertDevice(doc, summary('d2', 2, { platform: 'web' }))).toBe(doc);
    expect(removeDevice(doc, 'd2', 3)).toBe(doc);
    const removed = removeDevice(doc, 'd2', 4);
    expect(removed).toMatchObject({ deviceCount: 1, platforms: ['android'], lastSeenAt: '2025-01-02T00:00:00.000Z' });
  });
});
