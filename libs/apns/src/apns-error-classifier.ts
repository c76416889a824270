// Maps an APNs answer (Apple's "Handling notification responses from APNs" table) onto what Pushledger does
// about it, in the same vocabulary as classifyFcmError so one verdict table serves both providers.

export type ApnsErrorAction = 'invalidate_token' | 'bounce' | 'retry' | 'fail_message' | 'credential_error' | 'config_error' | 'unknown';

/** A failed send as @parse/node-apn reports it: an HTTP answer (`status`, `response`), or `error` alone (network, timeout). */
export interface ApnsFailure {
  status?: number | string;
  response?: { reason?: string; timestamp?: number | string };
  error?: { message?: string };
}

export interface ApnsErrorClassification {
  action: ApnsErrorAction;
  /** Apple's reason (`BadDeviceToken`, …), or `network` when no answer came. */
  code: string;
  httpStatus?: number;
  /** 410 only: when APNs last knew the token invalid (ISO); a registration after it keeps the token. */
  invalidSince?: string;
  reason: string;
}

const INVALIDATE = new Set(['BadDeviceToken', 'Unregistered', 'ExpiredToken']);
const CREDENTIAL = new Set([
  'BadCertificate',
  'BadCertificateEnvironment',
  'ExpiredProviderToken',
  'Forbidden',
  'InvalidProviderToken',
  'MissingProviderToken',
  'UnrelatedKeyIdInToken',
  'BadEnvironmentKeyIdInToken',
]);
/** The app's setup (its bundle id as topic, the endpoint) is wrong, not the token: counted by the circuit breaker like credentials. */
const CONFIG = new Set(['BadTopic', 'MissingTopic', 'TopicDisallowed', 'BadPath', 'MethodNotAllowed']);
const RETRY = new Set(['TooManyRequests', 'TooManyProviderTokenUpdates', 'InternalServerError', 'ServiceUnavailable', 'Shutdown', 'IdleTimeout']);

/** Apple's 410 timestamp is milliseconds since the epoch; anything unusable is left out (then the 410 invalidates). */
function timestampOf(value: number | string | undefined): string | undefined {
  const ms = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : undefined;
}

export function classifyApnsError(failure: ApnsFailure): ApnsErrorClassification {
  const status = typeof failure.status === 'number' ? failure.status : undefined;
  // node-apn keeps only the reason, as the error's message, for 403 ExpiredProviderToken and 500 InternalServerError.
  const code = failure.response?.reason ?? (status !== undefined ? failure.error?.message : undefined);
  const base = { ...(status !== undefined ? { httpStatus: status } : {}) };
  if (status === undefined) return { ...base, action: 'retry', code: 'network', reason: failure.error?.message ?? 'no answer from APNs' };
  if (code === 'DeviceTokenNotForTopic') return { ...base, action: 'bounce', code, reason: 'token belongs to another topic (bundle id)' };
  if (code && INVALIDATE.has(code)) {
    const invalidSince = status === 410 ? timestampOf(failure.response?.timestamp) : undefined;
    return { ...base, action: 'invalidate_token', code, reason: status === 410 ? 'token no longer active for the topic' : 'not a valid device token', ...(invalidSince ? { invalidSince } : {}) };
  }
  if (status === 403 || (code && CREDENTIAL.has(code))) return { ...base, action: 'credential_error', code: code ?? 'Forbidden', reason: 'APNs rejected the provider token or certificate' };
  if (code && CONFIG.has(code)) return { ...base, action: 'config_error', code, reason: 'topic or endpoint not accepted' };
  if (status === 429 || status >= 500 || (code && RETRY.has(code))) return { ...base, action: 'retry', code: code ?? `http_${status}`, reason: 'APNs asked to try later' };
  if (status === 410) return { ...base, action: 'invalidate_token', code: code ?? 'Unregistered', reason: 'token no longer active for the topic' };
  if (status === 400 || status === 413) return { ...base, action: 'fail_message', code: code ?? `http_${status}`, reason: 'APNs rejected the request' };
  return { ...base, action: 'unknown', code: code ?? `http_${status}`, reason: 'unexpected APNs answer' };
}
