import { parseAsOf } from './as-of';

describe('asOf', () => {
  it('parses ISO dates and instants only', () => {
    expect(parseAsOf('2025-01-31').toISOString()).toBe('2025-01-31T00:00:00.000Z');
    expect(parseAsOf('2025-01-31T12:00:00+02:00').toISOString()).toBe('2025-01-31T10:00:00.000Z');
    for (const bad of ['', 'now', '1700000000', '2025-02-30T00:00:00Z', '2025-01-31T25:00:00Z']) expect(() => parseAsOf(bad)).toThrow(/asOf/);
  });
});
