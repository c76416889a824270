/** Shapes shared by the event and command contracts. Everything here is plain JSON. */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export type Provider = 'fcm' | 'apns' | 'webpush';
export type Platform = 'android' | 'ios' | 'web';

/**
 * Liveness of the device's token: `stale` comes back by itself when the token is seen again, `invalid` never does.
 * `unregistered`: the app deleted the registration; reads and sends treat the device as gone until a token is registered on it again.
 */
export type DeviceStatus = 'active' | 'stale' | 'invalid' | 'unregistered';
/** Outcome of the last push handed to the provider (Customer.io `_last_status`). */
export type LastStatus = 'unused' | 'sent' | 'bounced' | 'suppressed';

export interface DeviceAttributes {
  model: string | null;
  osVersion: string | null;
  appVersion: string | null;
  locale: string | null;
  timezone: string | null;
}
export const DeviceAttributeNames = ['model', 'osVersion', 'appVersion', 'locale', 'timezone'] as const satisfies readonly (keyof DeviceAttributes)[];

/** In a command, an absent attribute means "unchanged" and `null` means "clear it". */
export type DeviceAttributesPatch = { [K in keyof DeviceAttributes]?: DeviceAttributes[K] };

/**
 * Personal data of one data subject. Every event that carries personal data carries it here and
 * nowhere else, so the store can encrypt `pii` with the key of `pii.userId` and erase by
 * destroying that key.
 */
export interface UserPii {
  userId: string;
}

/** Compile-time check that a list of names covers a union: `const _ok: CoversAll<Union, Listed> = true`. */
export type CoversAll<All extends string, Listed extends string> = [Exclude<All, Listed>] extends [never] ? true : never;
