import type { DeviceDoc } from './documents';
import { ownerlessChanges, ownerlessReason } from './ownerless-counters';

// The fields the reason reads.
const device = (over: Record<string, unknown> = {}): DeviceDoc => ({ id: 'd1', appId: 'app', userId: null, token: 'tok…0123456789', status: 'active', lastStatus: 'unused', pushEnabled: true, lastSeenAt: '2026-01-01T00:00:00.000Z', revision: 1, ...over }) as unknown as DeviceDoc;

describe('ownerless devices', () => {
  it('take the reason a broadcast reports for them: no token, then invalid, then anonymous; owned or unregistered ones none', () => {
    expect(ownerlessReason(device({ token: null }))).toBe('no_token');
    expect(ownerlessReason(device({ status: 'invalid' }))).toBe('invalid');
    expect(ownerlessReason(device())).toBe('anonymous');
    expect(ownerlessReason(device({ userId: 'ada' }))).toBeNull();
    expect(ownerlessReason(device({ status: 'unregistered' }))).toBeNull();
    expect(ownerlessReason(null)).toBeNull();
  });

  it('change counts only when the reason changes, at the fact’s position', () => {
    const anonymous = device();
    const owned = device({ userId: 'ada' });
    expect(ownerlessChanges(null, anonymous, 7n)).toEqual([{ position: 7n, reason: 'anonymous', change: 1 }]);
    expect(ownerlessChanges(anonymous, owned, 8n)).toEqual([{ position: 8n, reason: 'anonymous', change: -1 }]);
    expect(ownerlessChanges(anonymous, device({ status: 'invalid' }), 9n)).toEqual([
      { position: 9n, reason: 'anonymous', change: -1 },
      { position: 9n, reason: 'invalid', change: 1 },
    ]);
    expect(ownerlessChanges(anonymous, device({ lastSeenAt: '2026-02-01T00:00:00.000Z' }), 10n)).toEqual([]);
  });
});
