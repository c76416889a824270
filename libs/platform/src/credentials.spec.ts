import { randomBytes } from 'crypto';
import { CredentialSealError, openCredential, sealCredential } from './credentials';

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
