import { isMaskedToken, maskToken } from './mask';

describe('maskToken', () => {
  const token = 'dX1a2b3c:APA91bHunDreDsOfChArActErs_only-an-example';

  it('shows the first 6 characters and a hash, and masking again changes nothing', () => {
    const masked = maskToken(token);
    expect(masked).toMatch(/^dX1a2b…[0-9a-f]{10}$/);
    expect(maskToken(masked)).toBe(masked);
  });

  it('tells a masked form from a whole token', () => {
    expect(isMaskedToken(maskToken(token))).toBe(true);
    expect(isMaskedToken(token)).toBe(false);
    expect(isMaskedToken('short')).toBe(false);
  });
});
