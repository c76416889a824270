import { classifyApnsError } from './apns-error-classifier';

describe('classifyApnsError: Apple\'s answers onto Pushledger\'s actions', () => {
  it.each([
    [400, 'BadDeviceToken', 'invalidate_token'],
    [410, 'Unregistered', 'invalidate_token'],
    [410, 'ExpiredToken', 'invalidate_token'],
    [400, 'DeviceTokenNotForTopic', 'bounce'],
    [403, 'InvalidProviderToken', 'credential_error'],
    [403, 'ExpiredProviderToken', 'credential_error'],
    [403, 'MissingProviderToken', 'credential_error'],
    [403, 'BadEnvironmentKeyIdInToken', 'credential_error'],
    [400, 'TopicDisallowed', 'config_error'],
    [400, 'MissingTopic', 'config_error'],
    [429, 'TooManyRequests', 'retry'],
    [500, 'InternalServerError', 'retry'],
    [503, 'ServiceUnavailable', 'retry'],
    [400, 'BadCollapseId', 'fail_message'],
    [413, 'PayloadTooLarge', 'fail_message'],
  ])('%i %s → %s', (status, reason, action) => {
    const c = classifyApnsError({ status, response: { reason } });
    expect(c).toMatchObject({ action, code: reason, httpStatus: status });
  });

  it('410 carries APNs\'s timestamp (ms) as invalidSince; 400 BadDeviceToken has none', () => {
    expect(classifyApnsError({ status: 410, response: { reason: 'Unregistered', timestamp: 1_700_000_000_000 } }).invalidSince).toBe(new Date(1_700_000_000_000).toISOString());
    expect(classifyApnsError({ status: 410, response: { reason: 'Unregistered', timestamp: 'garbage' } }).invalidSince).toBeUndefined();
    expect(classifyApnsError({ status: 400, response: { reason: 'BadDeviceToken', timestamp: 1 } }).invalidSince).toBeUndefined();
  });

  it('node-apn\'s reason-only errors (403 ExpiredProviderToken, 500 InternalServerError) are read from the error message', () => {
    expect(classifyApnsError({ status: 403, error: { message: 'ExpiredProviderToken' } })).toMatchObject({ action: 'credential_error', code: 'ExpiredProviderToken' });
    expect(classifyApnsError({ status: 500, error: { message: 'Error 500, stream ended unexpectedly' } })).toMatchObject({ action: 'retry' });
  });

  it('no answer at all (network, timeout) is retried; an unknown status is unknown', () => {
    expect(classifyApnsError({ error: { message: 'apn write timeout' } })).toMatchObject({ action: 'retry', code: 'network' });
    expect(classifyApnsError({ status: 418, response: { reason: 'Teapot' } })).toMatchObject({ action: 'unknown' });
  });
});
