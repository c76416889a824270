import { createCipheriv, createDecipheriv, randomBytes } from 'crypto';
import type { PushledgerConfig } from '@pushledger/config';
import type { CredentialKind, SealedCredentialV1, StoredIdentitySecretHash } from '@pushledger/contracts';

const VERSION = 'v1';

/** Why a credential could not be sealed or opened; its message never holds any part of the credential. */
export class CredentialSealError extends Error {}

type SecretKey = NonNullable<PushledgerConfig['secretKey']>;

/**
 * Seals an app credential with the key-encryption key: AES-256-GCM over its JSON, a fresh 96-bit IV each
 * time, the app id, the credential's kind and the key id as associated data (a blob copied to another app
 * or field does not open).
 */
export function sealCredential(value: unknown, kind: CredentialKind, appId: string, secret: SecretKey | undefined): SealedCredentialV1 {
  if (!secret) throw new CredentialSealError('PUSHLEDGER_SECRET_KEY is not configured: credentials cannot be stored');
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', secret.key, iv);
  cipher.setAAD(aad(kind, appId, secret.kid));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return { $sealed: `${VERSION}.${secret.kid}.${Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url')}` };
}

/** The credential, for the one place that uses it; throws (without the content) when the configured key does not open it. */
export function openCredential(sealed: SealedCredentialV1, kind: CredentialKind, appId: string, secret: SecretKey | undefined): unknown {
  if (!secret) throw new CredentialSealError('PUSHLEDGER_SECRET_KEY is not configured: sealed credentials cannot be opened');
  const [version, kid, body] = sealed.$sealed.split('.');
  if (version !== VERSION || !kid || !body) throw new CredentialSealError(`unknown sealed credential format for ${kind}`);
  if (kid !== secret.kid) throw new CredentialSealError(`${kind} of ${appId} was sealed with key ${kid}; the configured key is ${secret.kid}`);
  try {
    const raw = Buffer.from(body, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', secret.key, raw.subarray(0, 12));
    decipher.setAAD(aad(kind, appId, kid));
    decipher.setAuthTag(raw.subarray(12, 28));
    return JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8'));
  } catch {
    throw new CredentialSealError(`${kind} of ${appId} does not open with the configured key (tampered or sealed for another app)`);
  }
}

function aad(kind: CredentialKind, appId: string, kid: string): Buffer {
  return Buffer.from(`pushledger-credential:${VERSION}:${kind}:${appId}:${kid}`);
}

/**
 * The identity secret's hash as it is stored: sealed under the key-encryption key; without one configured
 * (no credentials possible either), plain, as apps created before sealing hold it.
 */
export function sealIdentitySecretHash(hash: string, appId: string, secret: SecretKey | undefined): StoredIdentitySecretHash {
  return secret ? sealCredential(hash, 'app.identitySecretHash', appId, secret) : hash;
}

/** The plain hash, for verifying user hashes only; a plain stored one (written before sealing) is itself. Throws CredentialSealError. */
export function openIdentitySecretHash(stored: StoredIdentitySecretHash, appId: string, secret: SecretKey | undefined): string {
  if (typeof stored === 'string') return stored;
  const hash = openCredential(stored, 'app.identitySecretHash', appId, secret);
  if (typeof hash !== 'string') throw new CredentialSealError(`the identity secret of ${appId} is not a hash`);
  return hash;
}

/**
 * The app with its identity secret's hash opened, for the user-hash checks. One that does not open (another
 * key) is left out: the app then accepts no user hash at all, as one without a secret does.
 */
export function withOpenIdentitySecret<A extends { id: string; identitySecretHash?: StoredIdentitySecretHash }>(
  app: A,
  secret: SecretKey | undefined,
): Omit<A, 'identitySecretHash'> & { identitySecretHash?: string } {
  const { identitySecretHash: stored, ...rest } = app;
  if (stored === undefined) return rest;
  try {
    return { ...rest, identitySecretHash: openIdentitySecretHash(stored, app.id, secret) };
  } catch (err) {
    if (err instanceof CredentialSealError) return rest;
    throw err;
  }
}
