/**
 * A browser's PushSubscription (`subscription.toJSON()`) as the token of a `webpush` device: the push service's
 * endpoint and the keys the payload is encrypted to (RFC 8291). Stored in one canonical JSON form, so the same
 * subscription always names the same token stream and derived device id, whatever its key order or extra fields.
 */
export interface WebPushSubscriptionV1 {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

/** An uncompressed P-256 point (65 bytes) and the 16-byte auth secret, base64url without padding. */
const P256DH_CHARS = 87;
const AUTH_CHARS = 22;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** Browsers' endpoints are a few hundred characters; the token as a whole is capped at 4096 by the API. */
const MAX_ENDPOINT_CHARS = 2048;

export type SubscriptionParse = { ok: true; subscription: WebPushSubscriptionV1; token: string } | { ok: false; reason: string };

/** Some browsers pad their base64url; the padding carries nothing. */
const unpadded = (value: string): string => value.replace(/=+$/, '');

/** Checks a `webpush` token and gives its canonical form; `reason` names what is wrong without repeating the token. */
export function parseWebPushSubscription(token: string): SubscriptionParse {
  let value: unknown;
  try {
    value = JSON.parse(token);
  } catch {
    return { ok: false, reason: 'must be the PushSubscription as JSON ({ "endpoint", "keys": { "p256dh", "auth" } })' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'must be a JSON object with endpoint and keys' };
  const { endpoint, keys } = value as { endpoint?: unknown; keys?: unknown };
  if (typeof endpoint !== 'string' || endpoint.length > MAX_ENDPOINT_CHARS) return { ok: false, reason: `endpoint must be an https URL of at most ${MAX_ENDPOINT_CHARS} characters` };
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return { ok: false, reason: 'endpoint must be an https URL' };
  }
  if (url.protocol !== 'https:' || url.username || url.password) return { ok: false, reason: 'endpoint must be an https URL' };
  if (typeof keys !== 'object' || keys === null || Array.isArray(keys)) return { ok: false, reason: 'keys must hold p256dh and auth' };
  const { p256dh, auth } = keys as { p256dh?: unknown; auth?: unknown };
  if (typeof p256dh !== 'string' || typeof auth !== 'string') return { ok: false, reason: 'keys must hold p256dh and auth (base64url strings)' };
  const p = unpadded(p256dh);
  const a = unpadded(auth);
  if (!BASE64URL.test(p) || p.length !== P256DH_CHARS || Buffer.from(p, 'base64url')[0] !== 0x04) return { ok: false, reason: 'keys.p256dh must be an uncompressed P-256 public key (65 bytes, base64url)' };
  if (!BASE64URL.test(a) || a.length !== AUTH_CHARS) return { ok: false, reason: 'keys.auth must be 16 bytes, base64url' };
  const subscription = { endpoint: url.href, keys: { p256dh: p, auth: a } };
  return { ok: true, subscription, token: JSON.stringify(subscription) };
}

/**
 * The token as stored: a web push subscription in its canonical form, anything else as given. Lets a
 * reference by token (identify, logout, push to a token) find the device its registration named.
 */
export function canonicalToken(token: string): string {
  if (!token.startsWith('{')) return token;
  const parsed = parseWebPushSubscription(token);
  return parsed.ok ? parsed.token : token;
}
