import { createECDH, randomBytes } from 'crypto';
import { canonicalToken, parseWebPushSubscription } from './webpush-subscription';

function subscription() {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { endpoint: 'https://push.example.com/send/abc', keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') } };
}

describe('web push subscriptions as tokens', () => {
  it('gives one canonical form whatever the key order, padding or extra fields', () => {
    const s = subscription();
    const reordered = JSON.stringify({ expirationTime: null, keys: { auth: `${s.keys.auth}==`, p256dh: s.keys.p256dh }, endpoint: s.endpoint });
    const a = parseWebPushSubscription(JSON.stringify(s));
    const b = parseWebPushSubscription(reordered);
    expect(a).toEqual({ ok: true, subscription: s, token: JSON.stringify(s) });
    expect(b).toEqual(a);
    expect(canonicalToken(reordered)).toBe(JSON.stringify(s));
    expect(canonicalToken('fcm-token-as-given')).toBe('fcm-token-as-given');
  });

  it.each([
    ['not JSON', 'abc', /PushSubscription as JSON/],
    ['an http endpoint', JSON.stringify({ ...subscription(), endpoint: 'http://push.example.com/x' }), /https URL/],
    ['credentials in the endpoint', JSON.stringify({ ...subscription(), endpoint: 'https://u:p@push.example.com/x' }), /https URL/],
    ['no keys', JSON.stringify({ endpoint: 'https://push.example.com/x' }), /keys must hold/],
    ['a compressed p256dh', JSON.stringify({ ...subscription(), keys: { p256dh: Buffer.alloc(33, 2).toString('base64url'), auth: randomBytes(16).toString('base64url') } }), /p256dh/],
    ['a short auth', JSON.stringify({ ...subscription(), keys: { ...subscription().keys, auth: randomBytes(8).toString('base64url') } }), /auth must be 16 bytes/],
  ])('refuses %s, naming what is wrong without repeating the token', (_what, token, reason) => {
    const parsed = parseWebPushSubscription(token);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.reason).toMatch(reason);
      expect(parsed.reason).not.toContain('push.example.com');
    }
  });
});
