import { classifyFcmError, FCM_RESPONSE, parseRetryAfter, type FcmErrorResponse } from './fcm-error-classifier';

function sdkError(code: string, message = 'x', response?: FcmErrorResponse): Error {
  const err = Object.assign(new Error(message), { code });
  if (response) Object.defineProperty(err, FCM_RESPONSE, { value: response, enumerable: false });
  return err;
}

const fcm = (errorCode: string) => ({ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode });
const body = (code: number, status: string, message: string, details?: unknown[]) => ({ error: { code, status, message, ...(details ? { details } : {}) } });

describe('classifyFcmError', () => {
  it('tells UNREGISTERED from NOT_FOUND by the raw body', () => {
    const code = 'messaging/registration-token-not-registered';
    const unregistered = sdkError(code, 'Requested entity was not found.', {
      status: 404,
      retryAfter: undefined,
      body: body(404, 'NOT_FOUND', 'Requested entity was not found.', [fcm('UNREGISTERED')]),
    });
    const notFound = sdkError(code, 'Requested entity was not found.', {
      status: 404,
      retryAfter: undefined,
      body: body(404, 'NOT_FOUND', 'Requested entity was not found.'),
    });
    expect(classifyFcmError(unregistered)).toMatchObject({ action: 'invalidate_token', basis: 'response', fcmErrorCode: 'UNREGISTERED' });
    expect(classifyFcmError(notFound)).toMatchObject({ action: 'config_error', basis: 'response', fcmErrorCode: 'NOT_FOUND' });
    // Without the body both look the same to firebase-admin 13.
    expect(classifyFcmError(sdkError(code))).toMatchObject({ action: 'invalidate_token', basis: 'code' });
  });

  it('separates invalid tokens from invalid messages', () => {
    const token = sdkError('messaging/invalid-argument', 'The registration token is not a valid FCM registration token');
    expect(classifyFcmError(token).action).toBe('invalidate_token');
    const payload = sdkError('messaging/invalid-argument', "Invalid value at 'message.data[0].value'", {
      status: 400,
      retryAfter: undefined,
      body: body(400, 'INVALID_ARGUMENT', "Invalid value at 'message.data[0].value'", [
        { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'message.data[0].value', description: 'x' }] },
      ]),
    });
    expect(classifyFcmError(payload).action).toBe('fail_message');
    expect(classifyFcmError(sdkError('messaging/invalid-argument', 'something else')).action).toBe('fail_message');
  });

  it('reads Retry-After (seconds or date), else RetryInfo', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    const quota = (retryAfter: string | undefined, details: unknown[] = [fcm('QUOTA_EXCEEDED')]) =>
      sdkError('messaging/message-rate-exceeded', 'q', { status: 429, retryAfter, body: body(429, 'RESOURCE_EXHAUSTED', 'q', details) });
    expect(classifyFcmError(quota('60'), now)).toMatchObject({ action: 'retry', retryAfterMs: 60_000 });
    expect(classifyFcmError(quota('Wed, 01 Jan 2025 00:00:30 GMT'), now).retryAfterMs).toBe(30_000);
    expect(
      classifyFcmError(quota(undefined, [fcm('QUOTA_EXCEEDED'), { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1.5s' }]), now)
        .retryAfterMs,
    ).toBe(1500);
    expect(classifyFcmError(sdkError('messaging/message-rate-exceeded')).retryAfterMs).toBeUndefined();
  });

  it('keeps credential problems apart from per-token ones', () => {
    const denied = sdkError('messaging/mismatched-credential', 'Permission denied', {
      status: 403,
      retryAfter: undefined,
      body: body(403, 'PERMISSION_DENIED', 'Permission denied'),
    });
    expect(classifyFcmError(denied).action).toBe('credential_error');
    expect(classifyFcmError(sdkError('messaging/mismatched-credential')).action).toBe('bounce');
    const oauth = sdkError('messaging/third-party-auth-error', 'missing credential', {
      status: 401,
      retryAfter: undefined,
      body: body(401, 'UNAUTHENTICATED', 'missing credential'),
    });
    expect(classifyFcmError(oauth)).toMatchObject({ action: 'credential_error', reason: 'OAuth credential rejected' });
    expect(classifyFcmError(sdkError('messaging/third-party-auth-error')).action).toBe('credential_error');
    expect(classifyFcmError(sdkError('app/invalid-credential')).action).toBe('credential_error');
  });

  it('retries transport and server failures, gives up on the unknown', () => {
    for (const code of ['messaging/server-unavailable', 'messaging/internal-error', 'app/network-error', 'messaging/app/network-timeout']) {
      expect(classifyFcmError(sdkError(code)).action).toBe('retry');
    }
    expect(classifyFcmError(sdkError('messaging/unknown-error')).action).toBe('unknown');
    expect(classifyFcmError(new Error('boom')).action).toBe('unknown');
    expect(classifyFcmError(undefined).action).toBe('unknown');
  });
});

describe('parseRetryAfter', () => {
  it('handles seconds, dates and junk', () => {
    expect(parseRetryAfter('5')).toBe(5000);
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter('Wed, 01 Jan 2020 00:00:00 GMT', Date.parse('2025-01-01T00:00:00Z'))).toBe(0);
  });
});
