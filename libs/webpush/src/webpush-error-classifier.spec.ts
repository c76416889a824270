import { classifyWebPushError } from './webpush-error-classifier';

describe('classifyWebPushError', () => {
  const now = Date.parse('2026-12-06T12:00:00Z');

  it.each([
    [404, 'invalidate_token'],
    [410, 'invalidate_token'],
    [401, 'credential_error'],
    [403, 'credential_error'],
    [400, 'fail_message'],
    [429, 'retry'],
    [500, 'retry'],
    [503, 'retry'],
    [418, 'unknown'],
  ])('http %i → %s', (status, action) => {
    expect(classifyWebPushError({ statusCode: status }, now)).toMatchObject({ action, httpStatus: status, code: `http_${status}` });
  });

  it('413 fails the message as payload_too_large', () => {
    expect(classifyWebPushError({ statusCode: 413 }, now)).toMatchObject({ action: 'fail_message', code: 'payload_too_large' });
  });

  it('no answer at all is retried', () => {
    expect(classifyWebPushError({}, now)).toMatchObject({ action: 'retry', code: 'network' });
  });

  it('takes Retry-After in seconds or as an HTTP date; anything else is left to the back-off', () => {
    expect(classifyWebPushError({ statusCode: 429, headers: { 'retry-after': '30' } }, now).retryAfterMs).toBe(30_000);
    expect(classifyWebPushError({ statusCode: 503, headers: { 'retry-after': new Date(now + 5000).toUTCString() } }, now).retryAfterMs).toBe(5000);
    expect(classifyWebPushError({ statusCode: 503, headers: { 'retry-after': 'soon' } }, now).retryAfterMs).toBeUndefined();
  });
});
