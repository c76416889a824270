import type { DevicePolicy, Provider } from '@pushledger/contracts';
import type { DeviceView } from './device.view';
import { isPastStaleWindow } from './time';

export type SendTarget = { userId: string } | { deviceId: string } | { token: string };

export interface Message {
  to: SendTarget;
  /** Transactional pushes still reach unsubscribed users. */
  transactional: boolean;
  /** Overrides the app's device policy for a user-targeted send; null: use the app's. */
  devicePolicy: DevicePolicy | null;
  /** A subscription topic: users who turned it off are skipped, transactional or not. Absent or null: none. */
  topic?: string | null;
}

/** Why one device does not get one message. When several apply, the first in this list is reported. */
export const IneligibleReasons = [
  'no_token',
  'invalid',
  'anonymous',
  'not_targeted',
  'erased',
  'unsubscribed',
  'topic_unsubscribed',
  'suppressed',
  'stale',
  'push_disabled',
  'no_credentials',
  'payload_too_large',
] as const;
export type IneligibleReason = (typeof IneligibleReasons)[number];

export type Eligibility = { eligible: true } | { eligible: false; reason: IneligibleReason };

export type EligibilityDevice = Pick<DeviceView, 'id' | 'userId' | 'token' | 'status' | 'lastStatus' | 'pushEnabled' | 'lastSeenAt'> & Partial<Pick<DeviceView, 'provider'>>;
/** The device owner's consent state; null for an anonymous device. */
export interface EligibilityUser {
  userId: string;
  unsubscribed: boolean;
  /** Topics the user set (false: turned off); absent means none set. */
  topics?: Record<string, boolean>;
  erased: boolean;
}

export interface EligibilityContext<D extends EligibilityDevice = EligibilityDevice> {
  now: Date;
  staleAfterDays: number;
  /** The providers the app can send through (see sendableProviders); absent: all. A device of another one is never sent elsewhere. */
  providers?: readonly Provider[];
  /** Whether this message, as this device would get it, is over its provider's payload limit (Web Push's is below FCM's). */
  payloadTooLarge?: (device: D) => boolean;
}

const no = (reason: IneligibleReason): Eligibility => ({ eligible: false, reason });

/**
 * Whether `message` may go to `device`. Consent (`unsubscribed`), OS permission (`pushEnabled`)
 * and token validity (`status`) are three separate dimensions; each can exclude a device on its own.
 */
export function eligibility<D extends EligibilityDevice>(device: D, user: EligibilityUser | null, message: Message, ctx: EligibilityContext<D>): Eligibility {
  if (device.token === null) return no('no_token');
  if (device.status === 'invalid') return no('invalid');
  const to = message.to;
  if ('userId' in to) {
    // Anonymous devices are reachable only by a send naming the device or its token.
    if (device.userId === null) return no('anonymous');
    if (device.userId !== to.userId) return no('not_targeted');
  } else if ('deviceId' in to ? device.id !== to.deviceId : device.token !== to.token) {
    return no('not_targeted');
  }
  if (user && user.userId === device.userId) {
    if (user.erased) return no('erased');
    if (user.unsubscribed && !message.transactional) return no('unsubscribed');
    if (message.topic && user.topics?.[message.topic] === false) return no('topic_unsubscribed');
  }
  if (device.lastStatus === 'suppressed') return no('suppressed');
  // Computed here too: a device past the window is stale before the expiry job has written TokenExpired.
  if (device.status === 'stale' || isPastStaleWindow(device.lastSeenAt, ctx.now, ctx.staleAfterDays)) return no('stale');
  // null means never reported: not a reason to skip.
  if (device.pushEnabled === false) return no('push_disabled');
  if (ctx.providers && !ctx.providers.includes(device.provider ?? 'fcm')) return no('no_credentials');
  if (ctx.payloadTooLarge?.(device)) return no('payload_too_large');
  return { eligible: true };
}
