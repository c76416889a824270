import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'crypto';

/**
 * A value encrypted at rest: `{ "$enc": "v1.<kid>.<base64url(iv | tag | ciphertext)>" }` (AES-256-GCM over
 * the value's JSON, the field kind and key id as associated data). `{ "$enc": "erased" }` is a value written
 * after its subject was erased: nothing to decrypt.
 */
export interface Sealed {
  $enc: string;
}

export type SealedField = 'pii' | 'token' | 'recipient';

const VERSION = 'v1';
export const ERASED_AT_WRITE = 'erased';

export function isSealed(value: unknown): value is Sealed {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as Sealed).$enc === 'string' && Object.keys(value).length === 1;
}

export function seal(value: unknown, field: SealedField, kid: string, key: Buffer): Sealed {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(`${field}:${kid}`));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return { $enc: `${VERSION}.${kid}.${Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url')}` };
}

/** The key id a sealed value needs; null when it can never be read (written after erasure, or unknown format). */
export function kidOf(sealed: Sealed): string | null {
  const parts = sealed.$enc.split('.');
  return parts.length === 3 && parts[0] === VERSION && parts[1] ? parts[1] : null;
}

/** The value, or undefined when the key does not open it (wrong key, tampered data). */
export function unseal(sealed: Sealed, field: SealedField, key: Buffer): unknown {
  const [version, kid, body] = sealed.$enc.split('.');
  if (version !== VERSION || !kid || !body) return undefined;
  try {
    const raw = Buffer.from(body, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(`${field}:${kid}`));
    decipher.setAuthTag(raw.subarray(12, 28));
    return JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Keyed hash of a user id: stable per app, not reversible without the app's secret, never erased. */
export function pseudonymOf(secret: Buffer, userId: string): string {
  return createHmac('sha256', secret).update(userId, 'utf8').digest('hex').slice(0, 32);
}

export function newDataKey(): Buffer {
  return randomBytes(32);
}
