import type { Platform, Provider } from './events/common';

/**
 * APNs device tokens are the hex of 32 bytes or more (Apple keeps the length open); FCM registration
 * tokens never are: they are base64url with a ':' in them. Routes that take a token without naming its
 * provider (Customer.io, Masivo, Segment) tell them apart by this shape, so an iOS app that registers
 * its APNs token there is sent through APNs, and an iOS app on FCM through FCM.
 */
const APNS_TOKEN = /^(?:[0-9a-fA-F]{2}){32,100}$/;

export function providerOfToken(token: string, platform: Platform): Provider {
  return platform === 'ios' && APNS_TOKEN.test(token) ? 'apns' : 'fcm';
}
