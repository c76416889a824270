import { quotaBurst, QuotaBucket, reserveFrom } from './quota-limiter';

describe('the FCM quota bucket', () => {
  const T0 = 1_000_000;
  function series(perMinute: number, maxWaitMs: number, steps: { n: number; at: number }[]) {
    let bucket: QuotaBucket | null = null;
    return steps.map(({ n, at }) => {
      const r = reserveFrom(bucket, n, perMinute, maxWaitMs, at);
      bucket = r.bucket;
      return r.answer;
    });
  }

  it('lets a burst go at once, then makes later reservations wait out the debt', () => {
    // 600/min is 10 a second: the next 10 are owed one second.
    expect(series(600, Infinity, [{ n: 10, at: T0 }, { n: 10, at: T0 }, { n: 5, at: T0 }])).toEqual([{ waitMs: 0 }, { waitMs: 1000 }, { waitMs: 1500 }]);
  });

  it('defers a reservation whose wait would pass the cap, taking nothing, and says when its tokens will be there', () => {
    const answers = series(600, 5000, [...Array.from({ length: 7 }, () => ({ n: 10, at: T0 })), { n: 10, at: T0 }, { n: 10, at: T0 + 6000 }]);
    expect(answers).toEqual([
      { waitMs: 0 },
      { waitMs: 1000 },
      { waitMs: 2000 },
      { waitMs: 3000 },
      { waitMs: 4000 },
      { waitMs: 5000 },
      { deferMs: 6000 },
      // Nothing was taken by the deferral: the same wait is asked again, and once the debt drains the reservation goes.
      { deferMs: 6000 },
      { waitMs: 0 },
    ]);
  });

  it('refills at the quota rate up to the burst, never past it', () => {
    expect(series(600, Infinity, [{ n: 10, at: T0 }, { n: 10, at: T0 + 500 }])).toEqual([{ waitMs: 0 }, { waitMs: 500 }]);
    expect(series(600, Infinity, [{ n: 10, at: T0 }, { n: 10, at: T0 + 60_000 }, { n: 1, at: T0 + 60_000 }])).toEqual([{ waitMs: 0 }, { waitMs: 0 }, { waitMs: 100 }]);
  });

  it('caps a chunk at the burst, so a small quota never needs more than a second of tokens for one chunk', () => {
    expect([quotaBurst(30), quotaBurst(60), quotaBurst(600), quotaBurst(600_000)]).toEqual([1, 1, 10, 10_000]);
  });
});
