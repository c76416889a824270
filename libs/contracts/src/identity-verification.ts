import { createHash, createHmac, randomBytes, timingSafeEqual } from 'crypto';

/**
 * Compares a presented secret with the expected one in constant time. Both sides are hashed first, so the
 * comparison always runs over 32 bytes: neither a mismatch's position nor the expected secret's length shows in the timing.
 */
export function sameSecret(presented: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/** The reason a write naming a user without a valid `userHash` is refused (HTTP 401, ingest DLQ). */
export const USER_HASH_INVALID = 'user_hash_invalid';

/**
 * A new app's identity secret: 96 random bytes, 128 characters, longer than SHA-256's 64-byte block, so
 * HMAC-SHA256 keyed with it is keyed with its SHA-256 (RFC 2104). That digest is all we keep.
 */
export function newIdentitySecret(): string {
  return randomBytes(96).toString('base64url');
}

/**
 * What is stored of an identity secret, beside the key hashes: its SHA-256 (hex). Unlike a key hash it
 * verifies by recomputing the HMAC, so it must stay as private as the secret: it is never answered by the API.
 */
export function identitySecretHash(identitySecret: string): string {
  return createHash('sha256').update(identitySecret, 'utf8').digest('hex');
}

/** hex HMAC-SHA256 of the user id under the secret whose stored hash this is: equal to HMAC-SHA256(userId, identitySecret). */
export function userHashOf(secretHash: string, userId: string): string {
  return createHmac('sha256', Buffer.from(secretHash, 'hex')).update(userId, 'utf8').digest('hex');
}

/** The part of an app (directory entry or record) identity verification reads. */
export interface IdentityVerifiedApp {
  settings: { identityVerification?: boolean };
  identitySecretHash?: string;
}

/**
 * Whether a write-key request (or ingest message) naming `userId` may act for that user. Without the
 * setting, or naming no user, it may. An app with the setting but no stored secret (created before
 * identity verification) accepts no hash at all.
 */
export function userHashAccepted(app: IdentityVerifiedApp, userId: string | null | undefined, userHash: unknown): boolean {
  if (!app.settings.identityVerification || userId === null || userId === undefined || userId === '') return true;
  if (typeof userHash !== 'string' || !app.identitySecretHash) return false;
  return sameSecret(userHash.toLowerCase(), userHashOf(app.identitySecretHash, userId));
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const idOf = (v: unknown): string | null => (typeof v === 'string' && v !== '') || typeof v === 'number' ? String(v) : null;

/**
 * A Segment message (Tracking API or Kafka ingest) proves its `userId` with `userHash` at its top level or in
 * `context.userHash` (what Segment's SDKs let a caller add). Intilery's anonymous `register push` names the
 * device id as userId: it binds no user, so it needs no hash.
 */
export function segmentUserHashAccepted(app: IdentityVerifiedApp, message: unknown): boolean {
  if (!isObject(message)) return true;
  const userId = idOf(message.userId);
  const properties = isObject(message.properties) ? message.properties : {};
  const anonymousRegistration = message.type === 'track' && typeof message.event === 'string' && /^register[ _]push$/i.test(message.event) && userId === idOf(properties.deviceId);
  if (anonymousRegistration) return true;
  const context = isObject(message.context) ? message.context : {};
  return userHashAccepted(app, userId, message.userHash ?? context.userHash);
}
