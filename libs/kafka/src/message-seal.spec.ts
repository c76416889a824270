import { randomBytes } from 'crypto';
import { MessageSeal, UnsealableMessageError } from './message-seal';

const key = (kid: string) => ({ key: randomBytes(32), kid });

describe('MessageSeal', () => {
  const secret = key('k1');
  const command = new MessageSeal(secret, 'command');
  const value = { type: 'RegisterToken', token: 'tok-abcdef-123456', userId: 'ursula' };

  it('seals a value so that none of it is readable, and opens it again', () => {
    const sealed = command.seal(value);
    expect(sealed).toMatch(/^\{"\$sealed":"v1\.k1\./);
    expect(sealed).not.toContain('tok-abcdef');
    expect(sealed).not.toContain('ursula');
    expect(command.open(sealed)).toEqual(value);
  });

  it('reads plain JSON (written before sealing, or with no key) and writes it without a key', () => {
    expect(command.open(JSON.stringify(value))).toEqual(value);
    expect(new MessageSeal(undefined, 'command').seal(value)).toBe(JSON.stringify(value));
  });

  it('refuses what it cannot open: another key, another kind, no key, tampering; and text that is not JSON', () => {
    const sealed = command.seal(value);
    expect(() => new MessageSeal({ ...key('k1') }, 'command').open(sealed)).toThrow(UnsealableMessageError);
    expect(() => new MessageSeal(key('k2'), 'command').open(sealed)).toThrow(UnsealableMessageError);
    expect(() => new MessageSeal(secret, 'reply').open(sealed)).toThrow(UnsealableMessageError);
    expect(() => new MessageSeal(undefined, 'command').open(sealed)).toThrow(UnsealableMessageError);
    const body = JSON.parse(sealed).$sealed as string;
    const tampered = JSON.stringify({ $sealed: body.slice(0, -2) + (body.endsWith('AA') ? 'AB' : 'AA') });
    expect(() => command.open(tampered)).toThrow(UnsealableMessageError);
    expect(() => command.open('not json')).toThrow(SyntaxError);
  });
});
