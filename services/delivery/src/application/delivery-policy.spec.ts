import { sentIsNews, type RememberedEffect } from './delivery-policy';

describe('sentIsNews: a sent push goes to the registry unless the device is already sent to this token', () => {
  const sentHere: RememberedEffect = { tokenHash: 'h1', outcome: 'sent' };

  it('a device read as sent, last sent here to the same token: no news', () => {
    expect(sentIsNews('sent', sentHere, 'h1')).toBe(false);
  });

  it.each(['unused', 'bounced', 'suppressed', undefined] as const)('a device read as %s: news (its last status moves to sent)', (seen) => {
    expect(sentIsNews(seen, sentHere, 'h1')).toBe(true);
  });

  it('a bounce reported here that the sender had not read yet: news, so the run of bounces ends', () => {
    expect(sentIsNews('sent', { tokenHash: 'h1', outcome: 'bounced' }, 'h1')).toBe(true);
  });

  it('the last send here was to another token (the device registered a new one): news', () => {
    expect(sentIsNews('sent', sentHere, 'h2')).toBe(true);
  });

  it('nothing remembered here (no outcome recorded for the device yet): news', () => {
    expect(sentIsNews('sent', undefined, 'h1')).toBe(true);
  });
});
