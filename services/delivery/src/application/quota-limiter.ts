/** What a reservation of quota says: go after `waitMs` (the tokens are taken), or come back after `deferMs` (nothing taken). */
export type QuotaAnswer = { waitMs: number; deferMs?: undefined } | { deferMs: number; waitMs?: undefined };

/** An app's FCM token bucket: `tokens` as of `atMs` (epoch ms). */
export interface QuotaBucket {
  tokens: number;
  atMs: number;
}

/** Keeps each app under its FCM quota (messages per minute) across every delivery replica. */
export interface QuotaLimiter {
  reserve(appId: string, n: number, perMinute: number, maxWaitMs: number): Promise<QuotaAnswer>;
}

/** The burst: one second of the quota, at least one message. A chunk alone never needs more than it. */
export function quotaBurst(perMinute: number): number {
  return Math.max(1, Math.floor(perMinute / 60));
}

/**
 * Takes `n` messages' tokens (possibly into debt, which later reservations wait out) when the wait is at
 * most `maxWaitMs`; otherwise takes nothing and says when the tokens will be there. `bucket` null: a full one.
 */
export function reserveFrom(bucket: QuotaBucket | null, n: number, perMinute: number, maxWaitMs: number, nowMs: number): { bucket: QuotaBucket; answer: QuotaAnswer } {
  const rate = perMinute / 60000;
  const burst = quotaBurst(perMinute);
  const tokens = Math.min(burst, bucket ? bucket.tokens + Math.max(0, nowMs - bucket.atMs) * rate : burst);
  const wait = tokens - n >= 0 ? 0 : Math.ceil((n - tokens) / rate);
  if (wait > maxWaitMs) return { bucket: { tokens, atMs: nowMs }, answer: { deferMs: wait } };
  return { bucket: { tokens: tokens - n, atMs: nowMs }, answer: { waitMs: wait } };
}
