import { bearerToken, sameSecret } from './secrets';

// The module object itself (an `import *` may be a copy), so the spy sees the calls.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const crypto = require('crypto') as typeof import('crypto');

describe('sameSecret', () => {
  afterEach(() => jest.restoreAllMocks());

  it('accepts the same secret and refuses any other', () => {
    const token = 'pladm_0123456789abcdefghijklmnopqrstuv';
    expect(sameSecret(token, token)).toBe(true);
    expect(sameSecret(`${token}x`, token)).toBe(false);
    expect(sameSecret(token.slice(0, -1), token)).toBe(false);
    expect(sameSecret('', token)).toBe(false);
    expect(sameSecret(token.replace('0', '1'), token)).toBe(false);
  });

  it('compares 32-byte digests whatever the lengths, so neither length nor mismatch position shows', () => {
    const spy = jest.spyOn(crypto, 'timingSafeEqual');
    sameSecret('short', 'a much longer expected secret of 40 chars');
    sameSecret('', 'x');
    expect(spy).toHaveBeenCalledTimes(2);
    for (const [a, b] of spy.mock.calls) {
      expect([(a as Buffer).length, (b as Buffer).length]).toEqual([32, 32]);
    }
  });
});

describe('bearerToken', () => {
  it('reads a Bearer header, whatever the scheme case, and nothing else', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer   abc ')).toBe('abc');
    expect(bearerToken('Basic YWJjOg==')).toBeUndefined();
    expect(bearerToken('Bearer')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});
