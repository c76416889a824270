import { counterDelta, dailyDelta, isZero, mergeReasons } from './outcome-counters';

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

describe('dailyDelta', () => {
  const zero = { sent: 0, bounced: 0, invalidated: 0, failed: 0, skipped: 0 };
  const at = new Date('2026-03-02T00:00:00Z');

  it('counts new outcomes on the day they are recorded and moves a changed one off the day it was recorded, days in order', () => {
    expect(
      dailyDelta(
        [
          { before: null, after: { outcome: 'sent', reason: null } },
          { before: { outcome: 'failed', reason: 'x', at: new Date('2026-03-01T23:59:59Z') }, after: { outcome: 'sent', reason: null } },
          { before: { outcome: 'sent', reason: null, at: new Date('2026-02-27T10:00:00Z') }, after: { outcome: 'sent', reason: null } },
        ],
        at,
      ),
    ).toEqual([
      ['2026-03-01', { ...zero, failed: -1 }],
      ['2026-03-02', { ...zero, sent: 2 }],
    ]);
  });

  it('a move within one day leaves nothing to write', () => {
    expect(dailyDelta([{ before: { outcome: 'skipped', reason: 'stale', at }, after: { outcome: 'skipped', reason: 'unsubscribed' } }], at)).toEqual([]);
  });
});
