import { createHash } from 'crypto';

/** Push tokens are secrets: logs, errors and metrics only ever see the first 6 chars and a hash. */
export function maskToken(token: string | null | undefined): string {
  if (!token) return '';
  if (MASKED.test(token)) return token;
  const digest = createHash('sha256').update(token).digest('hex').slice(0, 10);
  return `${token.slice(0, 6)}…${digest}`;
}

/** A token masked already (tokens never hold '…'): masking it again changes nothing. */
const MASKED = /^[^…]{0,6}…[0-9a-f]{10}$/;

/** Whether `token` is a masked form (`maskToken`'s output), told without hashing it. */
export const isMaskedToken = (token: string): boolean => MASKED.test(token);

export { tokenHash } from '@pushledger/contracts';

const SECRET_KEYS = new Set(['token', 'fcmtoken', 'device_token', 'devicetoken', 'registrationtoken', 'previoustoken', 'writekey', 'serverkey', 'authorization', 'apikey', 'identitysecret', 'identitysecrethash', 'userhash']);

/** App credentials (write-only): not even a prefix of them is shown; only their sealed form may pass. */
const CREDENTIAL_KEYS = new Set(['serviceaccount', 'private_key', 'privatekey']);
export const HIDDEN_CREDENTIAL = '[credential]';

const isSealedValue = (v: unknown) => typeof v === 'object' && v !== null && typeof (v as { $sealed?: unknown }).$sealed === 'string' && Object.keys(v).length === 1;

/** Deep copy with every secret-looking field masked and every credential not sealed hidden; used by the logger on structured fields. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value instanceof Error) return { name: value.name, message: value.message };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const key = k.toLowerCase();
    out[k] = CREDENTIAL_KEYS.has(key) && v !== null ? HIDDEN_CREDENTIAL : SECRET_KEYS.has(key) && typeof v === 'string' ? maskToken(v) : redact(v, depth + 1);
  }
  return out;
}

/** Deep copy with credentials that are not sealed (facts stored before sealing existed) hidden; everything else as it is. */
export function hideCredentials(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => hideCredentials(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = CREDENTIAL_KEYS.has(k.toLowerCase()) && v !== null && !isSealedValue(v) ? HIDDEN_CREDENTIAL : hideCredentials(v, depth + 1);
  }
  return out;
}

const TOKEN_KEYS = new Set(['token', 'fcmtoken', 'device_token', 'devicetoken', 'registrationtoken', 'previoustoken']);

/** Deep copy with every push token masked and nothing else changed: what leaves an owner in a reply. */
export function maskTokens(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => maskTokens(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = TOKEN_KEYS.has(k.toLowerCase()) && typeof v === 'string' ? maskToken(v) : maskTokens(v, depth + 1);
  return out;
}
