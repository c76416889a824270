import { createHash } from 'crypto';

/** Push tokens are secrets: logs, errors and metrics only ever see the first 6 chars and a hash. */
export function maskToken(token: string | null | undefined): string {
  if (!token) return '';
  const digest = createHash('sha256').update(token).digest('hex').slice(0, 10);
  return `${token.slice(0, 6)}…${digest}`;
}

export { tokenHash } from '@pushledger/contracts';

const SECRET_KEYS = new Set(['token', 'fcmtoken', 'device_token', 'devicetoken', 'registrationtoken', 'previoustoken', 'writekey', 'serverkey', 'authorization', 'apikey', 'identitysecret', 'identitysecrethash', 'userhash']);

/** Deep copy with every secret-looking field masked; used by the logger on structured fields. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value instanceof Error) return { name: value.name, message: value.message };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SECRET_KEYS.has(k.toLowerCase()) && typeof v === 'string' ? maskToken(v) : redact(v, depth + 1);
  }
  return out;
}
