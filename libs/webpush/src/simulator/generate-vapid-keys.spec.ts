import { createECDH } from 'crypto';
import { generateVapidKeys } from './webpush-simulator';

describe('generateVapidKeys', () => {
  it('always gives a 32-byte private key (43 base64url characters) that matches its public key, though 1 key in 256 has a leading zero byte', () => {
    for (let i = 0; i < 2000; i++) {
      const keys = generateVapidKeys();
      expect(keys.privateKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const ecdh = createECDH('prime256v1');
      ecdh.setPrivateKey(Buffer.from(keys.privateKey, 'base64url'));
      expect(ecdh.getPublicKey().toString('base64url')).toBe(keys.publicKey);
    }
  });
});
