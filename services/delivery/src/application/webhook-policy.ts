/** Back-off between tries of one delivery doubles up to this. */
export const WEBHOOK_MAX_BACKOFF_MS = 3_600_000;
/** Deliveries sent at once to one webhook (each of another device: one device's go in order). */
export const WEBHOOK_IN_FLIGHT_PER_RECEIVER = 8;

export type WebhookVerdict = { kind: 'retry'; dueAt: Date } | { kind: 'disable'; reason: string };

/** After a failed try: when to try again, or, once the delivery has been failing for the whole retry period, give up on the webhook. */
export function afterFailure(attemptsBefore: number, firstAt: Date, now: Date, cfg: { retryBaseMs: number; retryForMs: number }, error: string): WebhookVerdict {
  if (now.getTime() - firstAt.getTime() >= cfg.retryForMs) return { kind: 'disable', reason: `deliveries failed for ${Math.round(cfg.retryForMs / 1000)} s; last: ${error}` };
  const backoff = Math.min(WEBHOOK_MAX_BACKOFF_MS, cfg.retryBaseMs * 2 ** Math.min(attemptsBefore, 30));
  return { kind: 'retry', dueAt: new Date(now.getTime() + backoff) };
}
