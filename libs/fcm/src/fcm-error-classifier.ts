// Maps a firebase-admin 13 messaging error onto what Pushledger does about it (table in
// shared/reference/fcm.md). firebase-admin keeps only `code` and `message` on its errors; the raw
// FCM answer (status, Retry-After, body) is available when createMessaging() installed the capture
// hook in fcm-client.ts, which attaches it under FCM_RESPONSE.

export const FCM_RESPONSE: unique symbol = Symbol.for('pushledger.fcm.response');

/** The raw FCM answer behind a firebase-admin error, as captured by the hook. */
export interface FcmErrorResponse {
  status: number;
  /** Raw Retry-After header value. */
  retryAfter: string | undefined;
  /** Parsed JSON body, or the text when it was not JSON. */
  body: unknown;
}

export type FcmErrorAction =
  | 'invalidate_token'
  | 'bounce'
  | 'retry'
  | 'fail_message'
  | 'credential_error'
  | 'config_error'
  | 'unknown';

export interface FcmErrorClassification {
  action: FcmErrorAction;
  /** Only for `retry`, when the answer said how long to wait (Retry-After or RetryInfo). */
  retryAfterMs?: number;
  /** firebase-admin's error.code. */
  code: string | undefined;
  /** FcmError.errorCode from the raw body, or its rpc status when there is no FcmError detail. */
  fcmErrorCode?: string;
  httpStatus?: number;
  /** 'response' when the raw FCM body was seen; 'code' when only firebase-admin's code was. */
  basis: 'response' | 'code';
  reason: string;
}

interface RpcError {
  code?: number;
  status?: string;
  message?: string;
  details?: Array<Record<string, unknown>>;
}

const FCM_ERROR_TYPE = 'type.googleapis.com/google.firebase.fcm.v1.FcmError';
const BAD_REQUEST_TYPE = 'type.googleapis.com/google.rpc.BadRequest';
const RETRY_INFO_TYPE = 'type.googleapis.com/google.rpc.RetryInfo';
const INVALID_TOKEN_MESSAGE = /not a valid FCM registration token/i;

export function fcmErrorResponse(error: unknown): FcmErrorResponse | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  return (error as { [FCM_RESPONSE]?: FcmErrorResponse })[FCM_RESPONSE];
}

/** Retry-After as seconds or an HTTP date, in ms from `now`; undefined when absent or unusable. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

function retryInfoDelay(details: RpcError['details']): number | undefined {
  const info = details?.find((d) => d['@type'] === RETRY_INFO_TYPE);
  const delay = info?.retryDelay;
  if (typeof delay === 'string') {
    const m = /^(\d+(?:\.\d+)?)s$/.exec(delay);
    if (m) return Math.round(Number(m[1]) * 1000);
  } else if (typeof delay === 'object' && delay !== null) {
    const d = delay as { seconds?: number | string; nanos?: number };
    return Number(d.seconds ?? 0) * 1000 + Math.round((d.nanos ?? 0) / 1e6);
  }
  return undefined;
}

function rpcErrorOf(response: FcmErrorResponse | undefined): RpcError | undefined {
  const body = response?.body;
  if (typeof body !== 'object' || body === null) return undefined;
  const error = (body as { error?: unknown }).error;
  return typeof error === 'object' && error !== null ? (error as RpcError) : undefined;
}

type Verdict = Pick<FcmErrorClassification, 'action' | 'reason'>;

function invalidArgument(message: string | undefined, hasFieldViolations: boolean): Verdict {
  if (hasFieldViolations) return { action: 'fail_message', reason: 'message rejected (field violations)' };
  if (message && INVALID_TOKEN_MESSAGE.test(message)) return { action: 'invalidate_token', reason: 'token is not a valid FCM registration token' };
  return { action: 'fail_message', reason: 'invalid argument' };
}

function fromBody(rpc: RpcError, fcmErrorCode: string | undefined): Verdict | undefined {
  const hasFieldViolations = (rpc.details ?? []).some(
    (d) => d['@type'] === BAD_REQUEST_TYPE && Array.isArray(d.fieldViolations) && d.fieldViolations.length > 0,
  );
  switch (fcmErrorCode) {
    case 'UNREGISTERED':
      return { action: 'invalidate_token', reason: 'token unregistered' };
    case 'INVALID_ARGUMENT':
      return invalidArgument(rpc.message, hasFieldViolations);
    case 'SENDER_ID_MISMATCH':
      return { action: 'bounce', reason: 'token belongs to another sender' };
    case 'QUOTA_EXCEEDED':
      return { action: 'retry', reason: 'quota exceeded' };
    case 'UNAVAILABLE':
      return { action: 'retry', reason: 'FCM unavailable' };
    case 'INTERNAL':
      return { action: 'retry', reason: 'FCM internal error' };
    case 'THIRD_PARTY_AUTH_ERROR':
    case 'APNS_AUTH_ERROR':
      return { action: 'credential_error', reason: 'APNs / web-push credential rejected' };
    case 'UNSPECIFIED_ERROR':
      return { action: 'unknown', reason: 'unspecified FCM error' };
    default:
      break;
  }
  // No FcmError detail: a Google API front-end answer about the request, not about the token.
  switch (rpc.status) {
    case 'NOT_FOUND':
      return { action: 'config_error', reason: 'NOT_FOUND without UNREGISTERED: wrong project id or URL' };
    case 'INVALID_ARGUMENT':
      return invalidArgument(rpc.message, hasFieldViolations);
    case 'UNAUTHENTICATED':
      return { action: 'credential_error', reason: 'OAuth credential rejected' };
    case 'PERMISSION_DENIED':
      return { action: 'credential_error', reason: 'service account lacks permission (or FCM API disabled)' };
    case 'RESOURCE_EXHAUSTED':
      return { action: 'retry', reason: 'quota exceeded' };
    case 'UNAVAILABLE':
    case 'INTERNAL':
    case 'DEADLINE_EXCEEDED':
      return { action: 'retry', reason: `FCM ${rpc.status.toLowerCase()}` };
    default:
      return undefined;
  }
}

function fromCode(code: string | undefined, message: string | undefined): Verdict {
  switch (code) {
    case 'messaging/registration-token-not-registered':
      // Also what firebase-admin says for NOT_FOUND without UNREGISTERED; only the body tells them apart.
      return { action: 'invalidate_token', reason: 'token unregistered (or NOT_FOUND: body not seen)' };
    case 'messaging/invalid-registration-token':
      return { action: 'invalidate_token', reason: 'invalid registration token' };
    case 'messaging/invalid-argument':
      return invalidArgument(message, false);
    case 'messaging/mismatched-credential':
      return { action: 'bounce', reason: 'token belongs to another sender' };
    case 'messaging/message-rate-exceeded':
    case 'messaging/device-message-rate-exceeded':
    case 'messaging/topics-message-rate-exceeded':
      return { action: 'retry', reason: 'quota exceeded' };
    case 'messaging/server-unavailable':
    case 'messaging/internal-error':
    case 'app/network-error':
    case 'app/network-timeout':
      return { action: 'retry', reason: code };
    case 'messaging/third-party-auth-error':
      return { action: 'credential_error', reason: 'APNs / web-push credential rejected' };
    case 'messaging/authentication-error':
    case 'app/invalid-credential':
      return { action: 'credential_error', reason: code };
    case 'messaging/invalid-payload':
    case 'messaging/payload-size-limit-exceeded':
    case 'messaging/invalid-data-payload-key':
    case 'messaging/invalid-options':
    case 'messaging/invalid-recipient':
    case 'messaging/invalid-package-name':
      return { action: 'fail_message', reason: code };
    case 'messaging/unknown-error':
      return { action: 'unknown', reason: 'unknown FCM error' };
    default:
      // Session-level failures of sendEach come as messaging/app/network-error and the like.
      if (code && /network-(error|timeout)$/.test(code)) return { action: 'retry', reason: code };
      return { action: 'unknown', reason: code ?? 'not a firebase error' };
  }
}

export function classifyFcmError(error: unknown, now: number = Date.now()): FcmErrorClassification {
  const e = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = typeof e.message === 'string' ? e.message : undefined;
  const response = fcmErrorResponse(error);
  const rpc = rpcErrorOf(response);
  const fcmDetail = rpc?.details?.find((d) => d['@type'] === FCM_ERROR_TYPE)?.errorCode;
  const fcmErrorCode = typeof fcmDetail === 'string' ? fcmDetail : rpc?.status;

  const fromResponse = rpc ? fromBody(rpc, typeof fcmDetail === 'string' ? fcmDetail : undefined) : undefined;
  const verdict = fromResponse ?? fromCode(code, message);
  const result: FcmErrorClassification = {
    ...verdict,
    code,
    basis: fromResponse ? 'response' : 'code',
  };
  if (fcmErrorCode !== undefined) result.fcmErrorCode = fcmErrorCode;
  if (response) result.httpStatus = response.status;
  if (verdict.action === 'retry') {
    const retryAfterMs = parseRetryAfter(response?.retryAfter, now) ?? retryInfoDelay(rpc?.details);
    if (retryAfterMs !== undefined) result.retryAfterMs = retryAfterMs;
  }
  return result;
}
