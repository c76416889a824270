import { createHash, timingSafeEqual } from 'crypto';

/**
 * Compares a presented secret with the expected one in constant time. Both sides are hashed first, so the
 * comparison always runs over 32 bytes: neither a mismatch's position nor the expected secret's length shows in the timing.
 */
export function sameSecret(presented: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/** The bearer token of an `Authorization` header, if it carries one. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const m = /^bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return m ? m[1] : undefined;
}
