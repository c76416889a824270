import { randomBytes } from 'crypto';
import { CredentialSealError, openCredential, openIdentitySecretHash, sealCredential, sealIdentitySecretHash, withOpenIdentitySecret } from './credentials';

describe('sealed credentials', () => {
  const secret = { key: randomBytes(32), kid: 'k1' };
  const account = { client_email: 'a@b', private_key: 'PRIVATE-marker' };

  it('seals to a blob that holds nothing of the credential, and opens for the same app and kind', () => {
    const sealed = sealCredential(account, 'fcm.serviceAccount', 'app_a', secret);
    expect(sealed.$sealed).toMatch(/^v1\.k1\.[A-Za-z0-9_-]+$/);
    expect(JSON.stringify(sealed)).not.toContain('marker');
    expect(sealCredential(account, 'fcm.serviceAccount', 'app_a', secret)).not.toEqual(sealed);
    expect(openCredential(sealed, 'fcm.serviceAccount', 'app_a', secret)).toEqual(account);
  });

  it('does not open for another app, another kind, another key or tampered data, and never says what it holds', () => {
    const sealed = sealCredential(account, 'fcm.serviceAccount', 'app_a', secret);
    const attempts = [
      () => openCredential(sealed, 'fcm.serviceAccount', 'app_b', secret),
      () => openCredential(sealed, 'apns.privateKey', 'app_a', secret),
      () => openCredential(sealed, 'fcm.serviceAccount', 'app_a', { key: randomBytes(32), kid: 'k1' }),
      () => openCredential(sealed, 'fcm.serviceAccount', 'app_a', { key: secret.key, kid: 'k2' }),
      () => openCredential({ $sealed: sealed.$sealed.slice(0, -2) + (sealed.$sealed.endsWith('AA') ? 'BB' : 'AA') }, 'fcm.serviceAccount', 'app_a', secret),
      () => openCredential(sealed, 'fcm.serviceAccount', 'app_a', undefined),
    ];
    for (const attempt of attempts) {
      expect(attempt).toThrow(CredentialSealError);
      expect(() => attempt()).not.toThrow(/marker/);
    }
    expect(() => sealCredential(account, 'fcm.serviceAccount', 'app_a', undefined)).toThrow(/PUSHLEDGER_SECRET_KEY is not configured/);
  });
});

describe("the identity secret's hash", () => {
  const secret = { key: randomBytes(32), kid: 'k1' };
  const hash = 'ab'.repeat(32);

  it('is sealed for its app, opened back for verification; a plain one (stored before sealing) is itself', () => {
    const sealed = sealIdentitySecretHash(hash, 'app_a', secret);
    expect(sealed).toEqual({ $sealed: expect.stringMatching(/^v1\.k1\./) });
    expect(JSON.stringify(sealed)).not.toContain(hash);
    expect(openIdentitySecretHash(sealed, 'app_a', secret)).toBe(hash);
    expect(openIdentitySecretHash(hash, 'app_a', secret)).toBe(hash);
    expect(() => openIdentitySecretHash(sealed, 'app_b', secret)).toThrow(CredentialSealError);
    // Without a key-encryption key there is nothing to seal with: stored as before.
    expect(sealIdentitySecretHash(hash, 'app_a', undefined)).toBe(hash);
  });

  it('an app whose hash does not open keeps none (no user hash verifies), one with the plain hash keeps it', () => {
    const settings = { identityVerification: true };
    const sealed = { id: 'app_a', settings, identitySecretHash: sealIdentitySecretHash(hash, 'app_a', secret) };
    expect(withOpenIdentitySecret(sealed, secret)).toEqual({ id: 'app_a', settings, identitySecretHash: hash });
    expect(withOpenIdentitySecret(sealed, { key: randomBytes(32), kid: 'k1' })).toEqual({ id: 'app_a', settings });
    expect(withOpenIdentitySecret({ ...sealed, id: 'app_b' }, secret)).toEqual({ id: 'app_b', settings });
    expect(withOpenIdentitySecret({ id: 'app_c', settings, identitySecretHash: hash }, undefined)).toEqual({ id: 'app_c', settings, identitySecretHash: hash });
  });
});

