// Maps a push service's answer (RFC 8030, RFC 8292) onto what Pushledger does about it, in the same
// vocabulary as classifyFcmError and classifyApnsError so one verdict table serves every provider.

export type WebPushErrorAction = 'invalidate_token' | 'retry' | 'fail_message' | 'credential_error' | 'unknown';

/** A failed send as the web-push library reports it: a WebPushError (`statusCode`, `headers`), or any other error (network, timeout). */
export interface WebPushFailure {
  statusCode?: number;
  headers?: Record<string, string | string[] | undefined>;
}

export interface WebPushErrorClassification {
  action: WebPushErrorAction;
  /** `http_<status>`, `payload_too_large` or `network`. */
  code: string;
  httpStatus?: number;
  retryAfterMs?: number;
  /** Never the endpoint or the error's text, which may quote it. */
  reason: string;
}

/** `Retry-After` in seconds or as an HTTP date (RFC 9110); anything else is left to the back-off. */
function retryAfterMsOf(headers: WebPushFailure['headers'], now: number): number | undefined {
  const raw = headers?.['retry-after'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

export function classifyWebPushError(failure: WebPushFailure, now = Date.now()): WebPushErrorClassification {
  const status = typeof failure.statusCode === 'number' ? failure.statusCode : undefined;
  if (status === undefined) return { action: 'retry', code: 'network', reason: 'no answer from the push service' };
  const base = { httpStatus: status, code: `http_${status}` };
  // 404: the subscription never existed or expired; 410: the user unsubscribed. Neither comes back (a new subscription is a new token).
  if (status === 404 || status === 410) return { ...base, action: 'invalidate_token', reason: status === 410 ? 'subscription gone (unsubscribed)' : 'subscription not found (expired)' };
  // The VAPID JWT or key was refused (or does not match the key the browser subscribed with): the app's setup, not the token.
  if (status === 401 || status === 403) return { ...base, action: 'credential_error', reason: 'the push service refused the VAPID credentials' };
  if (status === 413) return { ...base, action: 'fail_message', code: 'payload_too_large', reason: 'the push service refused the payload as too large' };
  if (status === 400) return { ...base, action: 'fail_message', reason: 'the push service refused the request' };
  if (status === 429 || status >= 500) {
    const retryAfterMs = retryAfterMsOf(failure.headers, now);
    return { ...base, action: 'retry', reason: 'the push service asked to try later', ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  }
  return { ...base, action: 'unknown', reason: 'unexpected answer from the push service' };
}
