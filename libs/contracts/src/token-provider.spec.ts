import { randomBytes } from 'crypto';
import { planSegmentMessage } from './segment-messages';
import { providerOfToken } from './token-provider';

describe('providerOfToken: routes that name no provider tell APNs from FCM by the token', () => {
  const apns = randomBytes(32).toString('hex');
  const fcm = `dGhpcyBpcyBub3QgaGV4:APA91b${randomBytes(100).toString('base64url')}`;

  it('an iOS hex token of 32 bytes or more is APNs, in either case', () => {
    expect(providerOfToken(apns, 'ios')).toBe('apns');
    expect(providerOfToken(apns.toUpperCase(), 'ios')).toBe('apns');
    expect(providerOfToken(randomBytes(100).toString('hex'), 'ios')).toBe('apns');
  });

  it('an FCM token on iOS, a short or odd-length hex string, and anything on Android or the web is FCM', () => {
    expect(providerOfToken(fcm, 'ios')).toBe('fcm');
    expect(providerOfToken(randomBytes(31).toString('hex'), 'ios')).toBe('fcm');
    expect(providerOfToken(`${apns}a`, 'ios')).toBe('fcm');
    expect(providerOfToken(randomBytes(101).toString('hex'), 'ios')).toBe('fcm');
    expect(providerOfToken(apns, 'android')).toBe('fcm');
    expect(providerOfToken(apns, 'web')).toBe('fcm');
  });
});

describe('Segment register push (HTTP and Kafka ingest plan the same way)', () => {
  const plan = (token: string, deviceType: string) =>
    planSegmentMessage({ type: 'track', event: 'register push', userId: 'u-1', messageId: 'm-1', properties: { deviceId: 'd-1', token, deviceType } }, 'app-1', 'fallback', new Date(0));

  it('an iOS APNs token is registered as APNs, an FCM token as FCM', () => {
    expect(plan(randomBytes(32).toString('hex'), 'iOS')).toMatchObject({ kind: 'register', command: { provider: 'apns', platform: 'ios' } });
    expect(plan('abc:APA91bXYZ-fcm-token-on-an-iphone-0123456789', 'iOS')).toMatchObject({ kind: 'register', command: { provider: 'fcm', platform: 'ios' } });
    expect(plan(randomBytes(32).toString('hex'), 'Android')).toMatchObject({ kind: 'register', command: { provider: 'fcm', platform: 'android' } });
  });
});
