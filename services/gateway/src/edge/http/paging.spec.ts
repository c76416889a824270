import { ApiError } from './api-error';
import { cursorOf, cursorValue, pageLimit } from './paging';

function fieldOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (e) {
    return e instanceof ApiError && e.status === 400 ? (e.details as { field: string }[])[0].field : 'not a 400';
  }
}

describe('paging', () => {
  it('reads a cursor back as the key it was made from, with the types asked for', () => {
    expect(cursorValue<[string, string]>(cursorOf(['2026-12-06T23:00:00.000Z', 'app_x']), ['string', 'string'])).toEqual(['2026-12-06T23:00:00.000Z', 'app_x']);
    expect(cursorValue<[number]>(cursorOf([42]), ['number'])).toEqual([42]);
  });

  it('refuses a cursor it did not make, or of another shape, as a 400 naming after', () => {
    for (const bad of ['', 'not a cursor', Buffer.from('[1,').toString('base64url'), cursorOf(['1']), cursorOf([1, 2]), `${cursorOf([1])}=`, 'a'.repeat(2000)]) {
      expect({ bad, field: fieldOf(() => cursorValue<[number]>(bad, ['number'])) }).toEqual({ bad, field: 'after' });
    }
  });

  it('takes a limit from 1 to 1000, defaulting when absent', () => {
    expect([pageLimit(undefined, 100), pageLimit('1', 100), pageLimit('1000', 100)]).toEqual([100, 1, 1000]);
    for (const bad of ['0', '1001', '-1', '1.5', 'ten', '']) expect({ bad, field: fieldOf(() => pageLimit(bad, 100)) }).toEqual({ bad, field: 'limit' });
  });
});
