import { createHash, createHmac } from 'crypto';

/** A UUID derived from a name, so a retried step writes the same event ids and the store drops the repeat. */
export function deterministicUuid(name: string): string {
  const h = createHash('sha256').update(name).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/** Names a token in stream names and ids without revealing it (`token-<appId>-<tokenHash>`). */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url').slice(0, 32);
}

/** Without a client-chosen id, a device is named after its token's hash (the token itself never appears in ids). */
export function deviceIdFromToken(token: string): string {
  return `d_${tokenHash(token).slice(0, 26)}`;
}

/**
 * The Kafka key of a user's commands and queries: one partition per user, without naming the user. Keyed
 * with the key-encryption key where one is configured, so a list of likely ids does not reveal whose it is.
 */
export function userMessageKey(appId: string, userId: string, secret: Buffer | undefined): string {
  return `u_${createHmac('sha256', secret ?? Buffer.from('pushledger-user-key')).update(`${appId}\u0000${userId}`).digest('base64url').slice(0, 27)}`;
}
/** A subscription topic's name (`PATCH /v1/users/{id}` `topics`, a push's `topic`): safe as a document field name. */
export const TOPIC_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** Topics one user may have a setting for. */
export const MAX_TOPICS_PER_USER = 200;
