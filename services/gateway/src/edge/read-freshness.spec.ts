import { parseFreshness } from './read-freshness';

describe('parseFreshness', () => {
  it('takes the position from the header, else the query, and Prefer: wait in seconds', () => {
    expect(parseFreshness('42', '7', undefined)).toEqual({ minPosition: 42n, waitMs: null });
    expect(parseFreshness(undefined, '7', 'wait=2')).toEqual({ minPosition: 7n, waitMs: 2000 });
    expect(parseFreshness(undefined, undefined, 'respond-async, wait=0')).toEqual({ minPosition: 0n, waitMs: 0 });
    expect(parseFreshness(undefined, ['1', '2'], 'return=minimal')).toEqual({ minPosition: 0n, waitMs: null });
  });

  it('rejects a position that is not a non-negative integer', () => {
    for (const bad of ['', '-1', '1.5', 'abc', '99999999999999999999']) expect(() => parseFreshness(bad, undefined, undefined)).toThrow(/minPosition/);
  });
});
