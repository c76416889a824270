import { TurnBatch } from './turn-batch';

describe('TurnBatch', () => {
  it('answers the lookups of one turn with one run, each key once; a key it leaves out is undefined', async () => {
    const runs: string[][] = [];
    const batch = new TurnBatch<string, number>(
      (k) => k,
      async (keys) => {
        runs.push(keys);
        return new Map(keys.filter((k) => k !== 'none').map((k) => [k, k.length]));
      },
    );
    const answers = await Promise.all([batch.get('a'), batch.get('bb'), batch.get('a'), batch.get('none')]);
    expect(answers).toEqual([1, 2, 1, undefined]);
    expect(runs).toEqual([['a', 'bb', 'none']]);
    expect(await batch.get('ccc')).toBe(3);
    expect(runs).toHaveLength(2);
  });

  it('fails every lookup of the turn when its run fails, and the next turn runs again', async () => {
    let fail = true;
    const batch = new TurnBatch<string, string>(
      (k) => k,
      async (keys) => {
        if (fail) throw new Error('database away');
        return new Map(keys.map((k) => [k, k]));
      },
    );
    const results = await Promise.allSettled([batch.get('x'), batch.get('y')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await batch.get('x')).toBe('x');
  });
});
