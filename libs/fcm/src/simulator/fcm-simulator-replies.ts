// Reply catalogue of the FCM simulator: FCM HTTP v1 error bodies as Google sends them, the
// token-prefix convention, and the payload checks. Bodies are serialized once per configuration so
// the request path only copies buffers.

export const FCM_ERROR_TYPE = 'type.googleapis.com/google.firebase.fcm.v1.FcmError';
export const BAD_REQUEST_TYPE = 'type.googleapis.com/google.rpc.BadRequest';
export const RETRY_INFO_TYPE = 'type.googleapis.com/google.rpc.RetryInfo';

export type FcmSimKind =
  | 'success'
  | 'unregistered'
  | 'invalid-token'
  | 'sender-id-mismatch'
  | 'quota-exceeded'
  | 'unavailable'
  | 'internal'
  | 'third-party-auth'
  | 'not-found'
  | 'unspecified'
  | 'invalid-payload'
  | 'unauthenticated'
  | 'permission-denied';

/** What the simulator answers for one attempt: a kind from the catalogue or a raw answer. */
export type FcmSimResponse =
  | FcmSimKind
  | { kind: FcmSimKind; retryAfterSeconds?: number }
  | { status: number; body: unknown; headers?: Record<string, string> };

/** Token prefixes (text before the first `:`) and what they answer. `flaky<N>:` is handled apart. */
export const TOKEN_PREFIXES: Readonly<Record<string, FcmSimKind>> = {
  ok: 'success',
  unregistered: 'unregistered',
  invalid: 'invalid-token',
  mismatch: 'sender-id-mismatch',
  quota: 'quota-exceeded',
  unavailable: 'unavailable',
  internal: 'internal',
  thirdparty: 'third-party-auth',
  notfound: 'not-found',
  unknown: 'unspecified',
  badpayload: 'invalid-payload',
  denied: 'permission-denied',
};

export interface ReplyOptions {
  quotaRetryAfterSeconds: number;
  unavailableRetryAfterSeconds: number;
  /** Also put a google.rpc.RetryInfo detail next to Retry-After (not known to be sent by real FCM). */
  retryInfoDetail: boolean;
}

/** A reply ready to write. `body` undefined means success: the name is minted per request. */
export interface SimReply {
  status: number;
  errorCode: string | undefined;
  body: Buffer | undefined;
  headers: Record<string, string>;
}

interface FieldViolation {
  field: string;
  description: string;
}

function errorBody(code: number, status: string, message: string, details: unknown[]): Buffer {
  const error: Record<string, unknown> = { code, message, status };
  if (details.length > 0) error.details = details;
  return Buffer.from(JSON.stringify({ error }));
}

function fcmError(errorCode: string): Record<string, string> {
  return { '@type': FCM_ERROR_TYPE, errorCode };
}

function reply(status: number, errorCode: string | undefined, body: Buffer, headers: Record<string, string> = {}): SimReply {
  return { status, errorCode, body, headers };
}

function retryable(
  status: number,
  rpcStatus: string,
  fcmCode: string,
  message: string,
  retryAfterSeconds: number,
  opts: ReplyOptions,
): SimReply {
  const details: unknown[] = [fcmError(fcmCode)];
  if (opts.retryInfoDetail) details.push({ '@type': RETRY_INFO_TYPE, retryDelay: `${retryAfterSeconds}s` });
  return reply(status, fcmCode, errorBody(status, rpcStatus, message, details), { 'retry-after': String(retryAfterSeconds) });
}

export function payloadErrorReply(violations: FieldViolation[], withFcmError = false): SimReply {
  const message = violations[0]?.description ?? 'Request contains an invalid argument.';
  const details: unknown[] = withFcmError ? [fcmError('INVALID_ARGUMENT')] : [];
  details.push({ '@type': BAD_REQUEST_TYPE, fieldViolations: violations });
  return reply(400, 'INVALID_ARGUMENT', errorBody(400, 'INVALID_ARGUMENT', message, details));
}

export function compileReply(response: FcmSimResponse, opts: ReplyOptions): SimReply {
  if (typeof response === 'object' && 'status' in response) {
    const body = Buffer.from(typeof response.body === 'string' ? response.body : JSON.stringify(response.body));
    return reply(response.status, undefined, body, { ...(response.headers ?? {}) });
  }
  const kind = typeof response === 'string' ? response : response.kind;
  const retryAfter = typeof response === 'object' ? response.retryAfterSeconds : undefined;
  switch (kind) {
    case 'success':
      return { status: 200, errorCode: undefined, body: undefined, headers: {} };
    case 'unregistered':
      return reply(404, 'UNREGISTERED', errorBody(404, 'NOT_FOUND', 'Requested entity was not found.', [fcmError('UNREGISTERED')]));
    case 'invalid-token':
      return reply(
        400,
        'INVALID_ARGUMENT',
        errorBody(400, 'INVALID_ARGUMENT', 'The registration token is not a valid FCM registration token', [fcmError('INVALID_ARGUMENT')]),
      );
    case 'sender-id-mismatch':
      return reply(403, 'SENDER_ID_MISMATCH', errorBody(403, 'PERMISSION_DENIED', 'SenderId mismatch', [fcmError('SENDER_ID_MISMATCH')]));
    case 'quota-exceeded':
      return retryable(
        429,
        'RESOURCE_EXHAUSTED',
        'QUOTA_EXCEEDED',
        'Quota exceeded for quota metric \'Send requests\' and limit \'Send requests per minute\' of service \'fcm.googleapis.com\'.',
        retryAfter ?? opts.quotaRetryAfterSeconds,
        opts,
      );
    case 'unavailable':
      return retryable(503, 'UNAVAILABLE', 'UNAVAILABLE', 'The service is currently unavailable.', retryAfter ?? opts.unavailableRetryAfterSeconds, opts);
    case 'internal':
      return reply(500, 'INTERNAL', errorBody(500, 'INTERNAL', 'Internal error encountered.', [fcmError('INTERNAL')]));
    case 'third-party-auth':
      return reply(
        401,
        'THIRD_PARTY_AUTH_ERROR',
        errorBody(401, 'UNAUTHENTICATED', 'Auth error from APNS or Web Push Service', [fcmError('THIRD_PARTY_AUTH_ERROR')]),
      );
    case 'not-found':
      return reply(404, 'NOT_FOUND', errorBody(404, 'NOT_FOUND', 'Requested entity was not found.', []));
    case 'unspecified':
      return reply(500, 'UNSPECIFIED_ERROR', errorBody(500, 'UNKNOWN', 'Unknown error.', [fcmError('UNSPECIFIED_ERROR')]));
    case 'invalid-payload':
      return payloadErrorReply([{ field: 'message.data', description: 'Invalid value at \'message.data\' (scripted)' }]);
    case 'unauthenticated':
      return reply(
        401,
        'UNAUTHENTICATED',
        errorBody(
          401,
          'UNAUTHENTICATED',
          'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
          [],
        ),
      );
    case 'permission-denied':
      return reply(
        403,
        'PERMISSION_DENIED',
        errorBody(403, 'PERMISSION_DENIED', 'Permission \'cloudmessaging.messages.create\' denied on resource \'//cloudresourcemanager.googleapis.com/projects/sim\'.', []),
      );
  }
  throw new Error(`FCM simulator: unknown response kind ${JSON.stringify(kind)}`);
}

export interface PayloadLimits {
  maxTitleLength: number;
  maxPayloadBytes: number;
  maxTopicPayloadBytes: number;
}

/** FCM's own checks on a message; undefined when the message is acceptable. */
export function validateMessage(message: unknown, rawLength: number, limits: PayloadLimits): SimReply | undefined {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    return payloadErrorReply([{ field: 'message', description: 'Invalid value at \'message\': expected an object' }]);
  }
  const m = message as Record<string, unknown>;
  if (m.token === undefined && m.topic === undefined && m.condition === undefined) {
    return payloadErrorReply([{ field: 'message', description: 'Recipient of the message is not set.' }]);
  }
  const violations: FieldViolation[] = [];
  const data = m.data;
  if (data !== undefined) {
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      violations.push({ field: 'message.data', description: 'Invalid value at \'message.data\': expected a map of strings' });
    } else {
      let i = 0;
      for (const key in data) {
        const value = (data as Record<string, unknown>)[key];
        if (typeof value !== 'string') {
          violations.push({
            field: `message.data[${i}].value`,
            description: `Invalid value at 'message.data[${i}].value' (TYPE_STRING), ${JSON.stringify(value)}`,
          });
        }
        i++;
      }
    }
  }
  const notification = m.notification as Record<string, unknown> | undefined;
  if (notification && typeof notification.title === 'string' && notification.title.length > limits.maxTitleLength) {
    violations.push({
      field: 'message.notification.title',
      description: `Invalid value at 'message.notification.title': longer than ${limits.maxTitleLength} characters`,
    });
  }
  if (violations.length > 0) return payloadErrorReply(violations);
  const limit = m.token === undefined ? limits.maxTopicPayloadBytes : limits.maxPayloadBytes;
  // The raw request is larger than the payload it carries, so most requests skip the re-serialization.
  if (rawLength > limit) {
    // FCM's documented limit is on the payload (notification and data); collapse keys, TTLs and headers are delivery options.
    const size = Buffer.byteLength(JSON.stringify({ data: m.data, notification: m.notification }));
    if (size > limit) {
      return payloadErrorReply([{ field: 'message', description: `Message is too big. Payload is ${size} bytes, the limit is ${limit} bytes.` }], true);
    }
  }
  return undefined;
}
