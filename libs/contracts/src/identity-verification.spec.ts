import { createHmac } from 'crypto';
import { identitySecretHash, newIdentitySecret, segmentUserHashAccepted, userHashAccepted, userHashOf } from './identity-verification';

/** What an app's backend computes, with nothing of ours: hex HMAC-SHA256 of the user id under the secret. */
const clientHash = (secret: string, userId: string) => createHmac('sha256', secret).update(userId, 'utf8').digest('hex');

describe('identity verification', () => {
  const secret = newIdentitySecret();
  const app = { settings: { identityVerification: true }, identitySecretHash: identitySecretHash(secret) };

  it("checks the client's HMAC under the secret from the stored hash alone", () => {
    expect(Buffer.byteLength(secret)).toBeGreaterThan(64);
    expect(userHashOf(app.identitySecretHash, 'user-42')).toBe(clientHash(secret, 'user-42'));
    // The equality holds only for secrets longer than SHA-256's block: a short one would not verify.
    expect(userHashOf(identitySecretHash('short'), 'user-42')).not.toBe(clientHash('short', 'user-42'));
  });

  it('accepts the right hash (any hex case) and refuses a missing, wrong or other user\'s one', () => {
    const right = clientHash(secret, 'user-42');
    expect(userHashAccepted(app, 'user-42', right)).toBe(true);
    expect(userHashAccepted(app, 'user-42', right.toUpperCase())).toBe(true);
    expect(userHashAccepted(app, 'user-42', undefined)).toBe(false);
    expect(userHashAccepted(app, 'user-42', '')).toBe(false);
    expect(userHashAccepted(app, 'user-42', 42)).toBe(false);
    expect(userHashAccepted(app, 'user-42', right.replace(/.$/, (c) => (c === '0' ? '1' : '0')))).toBe(false);
    expect(userHashAccepted(app, 'user-43', right)).toBe(false);
    expect(userHashAccepted(app, 'user-42', clientHash(newIdentitySecret(), 'user-42'))).toBe(false);
  });

  it('asks nothing of an app without the setting, nor of a request naming no user', () => {
    expect(userHashAccepted({ settings: { identityVerification: false }, identitySecretHash: app.identitySecretHash }, 'user-42', undefined)).toBe(true);
    expect(userHashAccepted({ settings: {} }, 'user-42', undefined)).toBe(true);
    expect(userHashAccepted(app, null, undefined)).toBe(true);
    expect(userHashAccepted(app, undefined, undefined)).toBe(true);
  });

  it('accepts no hash for an app that verifies identities but has no stored secret', () => {
    expect(userHashAccepted({ settings: { identityVerification: true } }, 'user-42', clientHash(secret, 'user-42'))).toBe(false);
  });

  it('reads a Segment message\'s hash at its top or in context; an anonymous register push needs none', () => {
    const right = clientHash(secret, 'user-42');
    const identify = { type: 'identify', userId: 'user-42', anonymousId: 'dev-1' };
    expect(segmentUserHashAccepted(app, identify)).toBe(false);
    expect(segmentUserHashAccepted(app, { ...identify, userHash: 'ab' })).toBe(false);
    expect(segmentUserHashAccepted(app, { ...identify, userHash: right })).toBe(true);
    expect(segmentUserHashAccepted(app, { ...identify, context: { userHash: right } })).toBe(true);
    const registerPush = (userId: string) => ({ type: 'track', event: 'register push', userId, properties: { deviceId: 'dev-1', fcmToken: 'tok', deviceType: 'Android' } });
    expect(segmentUserHashAccepted(app, registerPush('dev-1'))).toBe(true);
    expect(segmentUserHashAccepted(app, registerPush('user-42'))).toBe(false);
    expect(segmentUserHashAccepted(app, { ...registerPush('user-42'), userHash: right })).toBe(true);
    expect(segmentUserHashAccepted(app, { type: 'track', event: 'Opened', userId: 'user-42' })).toBe(false);
    expect(segmentUserHashAccepted(app, { type: 'track', event: 'Opened', anonymousId: 'dev-1' })).toBe(true);
  });
});
