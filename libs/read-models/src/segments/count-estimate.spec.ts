import { estimateCount, estimateIsEnough, SEGMENT_ESTIMATE_ENOUGH_MATCHES } from './count-estimate';

describe('estimateCount', () => {
  it('is the exact count when every partition was counted', () => {
    expect(estimateCount(1234, 32, 32)).toEqual({ count: 1234 });
  });

  it('scales the matches of the partitions counted, with a 95% margin', () => {
    // 4 of 32 partitions: f = 1/8; 2,500 matches → 20,000; margin 1.96·√(2500·7/8)/(1/8) = 733.4…
    expect(estimateCount(2500, 4, 32)).toEqual({ count: 20_000, estimate: { partitionsCounted: 4, partitions: 32, margin: 734 } });
  });

  it('bounds a segment with no match in the sample by the rule of three', () => {
    expect(estimateCount(0, 2, 32)).toEqual({ count: 0, estimate: { partitionsCounted: 2, partitions: 32, margin: 48 } });
  });

  it('holds the true count within its margin about 95% of the time (users hashed to partitions at random)', () => {
    // mulberry32: a seeded generator, so the run is the same every time.
    let seed = 7;
    const random = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
    };
    const partitions = 32;
    const truth = 5_000;
    let within = 0;
    const trials = 300;
    for (let t = 0; t < trials; t++) {
      let matched = 0;
      for (let u = 0; u < truth; u++) if (Math.floor(random() * partitions) < 2) matched++;
      const { count, estimate } = estimateCount(matched, 2, partitions);
      if (Math.abs(count - truth) <= estimate!.margin) within++;
    }
    expect(within / trials).toBeGreaterThan(0.9);
    expect(within / trials).toBeLessThan(0.99);
  });
});

describe('estimateIsEnough', () => {
  it('stops on enough matches or a spent budget, not before', () => {
    expect(estimateIsEnough(SEGMENT_ESTIMATE_ENOUGH_MATCHES - 1, 999, 1000)).toBe(false);
    expect(estimateIsEnough(SEGMENT_ESTIMATE_ENOUGH_MATCHES, 0, 1000)).toBe(true);
    expect(estimateIsEnough(0, 1000, 1000)).toBe(true);
  });
});
