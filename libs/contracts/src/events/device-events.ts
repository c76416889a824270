import type { CoversAll, DeviceAttributes, Platform, Provider, UserPii } from './common';

/**
 * Facts of the device stream `device-<appId>-<deviceId>`. Every `data` names its app and device
 * (so a fact read off the lifecycle topic stands on its own) and carries `at`, the ISO time the
 * fact was decided. Personal data lives only under `pii`.
 */
interface DeviceFact {
  appId: string;
  deviceId: string;
  at: string;
}

/** The device's first token: creates the device, anonymous and active. */
export type TokenRegistered = {
  type: 'TokenRegistered';
  data: DeviceFact & {
    token: string;
    provider: Provider;
    platform: Platform;
    /** Generation of the token's ownership (token stream) this device holds the token under. */
    claim: number;
    attributes: DeviceAttributes;
    pushEnabled: boolean | null;
  };
};

/** Same device, new token. The device is active again and its delivery status starts over (`unused`). */
export type TokenRefreshed = {
  type: 'TokenRefreshed';
  data: DeviceFact & { previousToken: string | null; token: string; provider: Provider; platform: Platform; claim: number };
};

/** The device registered its token again after another device had claimed it; fences off the late release. */
export type TokenReclaimed = { type: 'TokenReclaimed'; data: DeviceFact & { token: string; claim: number } };

/** A stale token was seen again: active again. */
export type TokenRevived = { type: 'TokenRevived'; data: DeviceFact & { token: string } };

/** The app was open (or the device otherwise showed up); recorded at most once per hour. */
export type DeviceSeen = { type: 'DeviceSeen'; data: DeviceFact };

/** `attributes` is the whole set after the change; `changed` names what differs. */
export type DeviceAttributesUpdated = {
  type: 'DeviceAttributesUpdated';
  data: DeviceFact & { attributes: DeviceAttributes; changed: (keyof DeviceAttributes)[] };
};

/** OS notification permission as last reported by the app; not consent. */
export type PushPermissionChanged = {
  type: 'PushPermissionChanged';
  data: DeviceFact & { pushEnabled: boolean; previous: boolean | null };
};

export type Identified = { type: 'Identified'; data: DeviceFact & { pii: UserPii } };

/** `moved`: another user identified on this device; `unregistered`: the device was unregistered (DeviceUnregistered follows). */
export type LoggedOut = { type: 'LoggedOut'; data: DeviceFact & { reason: 'logout' | 'moved' | 'unregistered'; pii: UserPii } };

/** The owner went past the app's max devices and this was their least recently seen device. */
export type DeviceDetached = { type: 'DeviceDetached'; data: DeviceFact & { reason: 'max_devices'; pii: UserPii } };

/** The owner was erased; the device stays, anonymous. Carries no personal data by design. */
export type DeviceAnonymised = { type: 'DeviceAnonymised'; data: DeviceFact };

export type PushSent = { type: 'PushSent'; data: DeviceFact & { messageId: string } };

/** `consecutiveBounces` counts this one. */
export type PushBounced = {
  type: 'PushBounced';
  data: DeviceFact & { messageId: string; reason: string; consecutiveBounces: number };
};

/** Second consecutive bounce: no more sends until the token is registered or identified again. */
export type DeviceSuppressed = { type: 'DeviceSuppressed'; data: DeviceFact & { messageId: string } };

/** Identify or re-registration with the same token clears bounced/suppressed back to `unused`. */
export type DeliveryStatusReset = {
  type: 'DeliveryStatusReset';
  data: DeviceFact & { previous: 'bounced' | 'suppressed'; cause: 'identified' | 'reregistered' };
};

/** Final for this token: the provider said it is dead (e.g. FCM UNREGISTERED). */
export type TokenInvalidated = {
  type: 'TokenInvalidated';
  data: DeviceFact & { token: string; reason: string; messageId: string | null };
};

/** Not seen for `staleAfterDays`: excluded from sends until seen again. */
export type TokenExpired = {
  type: 'TokenExpired';
  data: DeviceFact & { token: string; lastSeenAt: string; staleAfterDays: number };
};

/** The token was registered under another device id (`claim` is that device's generation); this device has no token now. */
export type TokenReleased = {
  type: 'TokenReleased';
  data: DeviceFact & { token: string; toDeviceId: string; claim: number };
};

/**
 * The app deleted the registration (e.g. Twilio's DELETE): the device is gone for reads and sends, its
 * history stays. `token`: the one it held (null if it had none). Registering a token on it again brings it back.
 */
export type DeviceUnregistered = { type: 'DeviceUnregistered'; data: DeviceFact & { token: string | null } };

export type DeviceEvent =
  | TokenRegistered
  | TokenRefreshed
  | TokenReclaimed
  | TokenRevived
  | DeviceSeen
  | DeviceAttributesUpdated
  | PushPermissionChanged
  | Identified
  | LoggedOut
  | DeviceDetached
  | DeviceAnonymised
  | PushSent
  | PushBounced
  | DeviceSuppressed
  | DeliveryStatusReset
  | TokenInvalidated
  | TokenExpired
  | TokenReleased
  | DeviceUnregistered;

export const DeviceEventTypes = [
  'TokenRegistered',
  'TokenRefreshed',
  'TokenReclaimed',
  'TokenRevived',
  'DeviceSeen',
  'DeviceAttributesUpdated',
  'PushPermissionChanged',
  'Identified',
  'LoggedOut',
  'DeviceDetached',
  'DeviceAnonymised',
  'PushSent',
  'PushBounced',
  'DeviceSuppressed',
  'DeliveryStatusReset',
  'TokenInvalidated',
  'TokenExpired',
  'TokenReleased',
  'DeviceUnregistered',
] as const satisfies readonly DeviceEvent['type'][];
export type DeviceEventType = (typeof DeviceEventTypes)[number];
const _everyDeviceEventListed: CoversAll<DeviceEvent['type'], DeviceEventType> = true;

export const DeviceEventSchemaVersions = {
  TokenRegistered: 1,
  TokenRefreshed: 1,
  TokenReclaimed: 1,
  TokenRevived: 1,
  DeviceSeen: 1,
  DeviceAttributesUpdated: 1,
  PushPermissionChanged: 1,
  Identified: 1,
  LoggedOut: 1,
  DeviceDetached: 1,
  DeviceAnonymised: 1,
  PushSent: 1,
  PushBounced: 1,
  DeviceSuppressed: 1,
  DeliveryStatusReset: 1,
  TokenInvalidated: 1,
  TokenExpired: 1,
  TokenReleased: 1,
  DeviceUnregistered: 1,
} as const satisfies Record<DeviceEvent['type'], number>;

export type DeviceEventOf<T extends DeviceEventType> = Extract<DeviceEvent, { type: T }>;
