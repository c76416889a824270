import { counterDelta, isZero, mergeReasons } from './outcome-counters';

describe('counterDelta', () => {
  it('counts a new row once per outcome, skipped also by reason', () => {
    const d = counterDelta([
      { before: null, after: { outcome: 'sent', reason: null } },
      { before: null, after: { outcome: 'skipped', reason: 'unsubscribed' } },
      { before: null, after: { outcome: 'skipped', reason: 'unsubscribed' } },
      { before: null, after: { outcome: 'bounced', reason: 'SENDER_ID_MISMATCH' } },
    ]);
    expect(d).toEqual({ sent: 1, bounced: 1, invalidated: 0, failed: 0, skipped: 2, skippedByReason: { unsubscribed: 2 } });
  });

  it('moves a changed outcome from the old count to the new one', () => {
    const d = counterDelta([{ before: { outcome: 'skipped', reason: 'stale' }, after: { outcome: 'sent', reason: null } }]);
    expect(d).toEqual({ sent: 1, bounced: 0, invalidated: 0, failed: 0, skipped: -1, skippedByReason: { stale: -1 } });
  });

  it('an unchanged outcome moves nothing', () => {
    const d = counterDelta([{ before: { outcome: 'failed', reason: 'a' }, after: { outcome: 'failed', reason: 'b' } }]);
    expect(isZero(d)).toBe(true);
  });

  it('merges reasons and drops zeros', () => {
    expect(mergeReasons({ stale: 1, unsubscribed: 2 }, { stale: -1, erased: 1 })).toEqual({ unsubscribed: 2, erased: 1 });
  });
});
