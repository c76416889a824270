import type { LastStatus } from '@pushledger/contracts';
import type { FcmErrorAction } from '@pushledger/fcm';

/** A provider's error, classified (classifyFcmError, classifyApnsError): the action and the provider's own code. */
export interface ProviderErrorClassification {
  action: FcmErrorAction;
  reason: string;
  code?: string;
  fcmErrorCode?: string;
  retryAfterMs?: number;
  /** When the provider last knew the token dead (APNs 410 timestamp, ISO). */
  invalidSince?: string;
}

/** What one provider answer means for one (message, device) pair. */
export type SendVerdict =
  | { kind: 'sent' }
  | { kind: 'invalidated'; reason: string; invalidSince?: string }
  | { kind: 'bounced'; reason: string; credential: boolean }
  | { kind: 'failed'; reason: string; credential: boolean; wholeMessage: boolean }
  | { kind: 'retry'; reason: string; retryAfterMs: number | undefined };

/** The table of shared/reference/fcm.md (APNs mapped onto it): only a dead token invalidates; credential trouble never touches tokens. */
export function verdictOf(c: ProviderErrorClassification): SendVerdict {
  const reason = c.fcmErrorCode ?? c.code ?? c.reason;
  switch (c.action) {
    case 'invalidate_token':
      return { kind: 'invalidated', reason, ...(c.invalidSince ? { invalidSince: c.invalidSince } : {}) };
    case 'bounce':
      return { kind: 'bounced', reason, credential: true };
    case 'retry':
      return { kind: 'retry', reason, retryAfterMs: c.retryAfterMs };
    case 'fail_message':
      return { kind: 'failed', reason: `invalid_payload:${reason}`, credential: false, wholeMessage: true };
    case 'credential_error':
    case 'config_error':
      return { kind: 'failed', reason: `${c.action}:${reason}`, credential: true, wholeMessage: false };
    case 'unknown':
      return { kind: 'retry', reason, retryAfterMs: undefined };
    default: {
      const _exhaustive: never = c.action;
      return { kind: 'retry', reason: String(_exhaustive), retryAfterMs: undefined };
    }
  }
}

/**
 * The longest a delivery handler waits in place (quota, Retry-After, back-off). A longer wait defers the rest of
 * the request: the partition is paused meanwhile, the group's heartbeats and rebalances go on.
 */
export const MAX_WAIT_IN_HANDLER_MS = 5_000;

/**
 * How long a pair's send may still be in flight after its sender counted it: a provider batch (500 sends over
 * one HTTP/2 session) and the heartbeat after it. Another holder of the partition sends the pair only after
 * this, so two processes never send it at once; a batch stalled longer is resent (at least once, counted).
 */
export const PAIR_LEASE_MS = 30_000;

/** Exponential back-off with full jitter, never shorter than what the server asked for. */
export function backoffMs(attempt: number, baseMs: number, retryAfterMs: number | undefined, random = Math.random): number {
  const exp = baseMs * 2 ** Math.max(0, attempt - 1);
  const jittered = exp / 2 + random() * (exp / 2);
  return Math.max(jittered, retryAfterMs ?? 0);
}

/** The circuit breaker's test: most of a batch failing on credentials means the app's setup is wrong, not the tokens. */
export function credentialsLookBroken(credentialFailures: number, answered: number): boolean {
  return answered >= 10 && credentialFailures / answered >= 0.5;
}

/** What delivery last told the registry about a device, and the hash of the token it was about. */
export interface RememberedEffect {
  tokenHash: string;
  outcome: 'sent' | 'bounced' | 'invalidated';
}

/**
 * Facts record changes, not traffic: a sent push goes to the registry unless the sender read the device as
 * already `sent` and delivery's own last word on it was a send to this token. Either alone can be behind: the
 * sender's read can miss a bounce delivery reported a moment ago, delivery's memory misses a reset the registry
 * made (the same token registered again). When the device is news, the registry's decider still decides.
 */
export function sentIsNews(seen: LastStatus | undefined, remembered: RememberedEffect | undefined, tokenHash: string): boolean {
  return !(seen === 'sent' && remembered?.outcome === 'sent' && remembered.tokenHash === tokenHash);
}
