import type { CoversAll, JsonObject, UserPii } from './common';

/**
 * Facts of the user stream `user-<appId>-<userId>`. The device stream is the truth about who owns
 * a device; the user stream follows it (linked/unlinked) so that "this user's devices" and the
 * max-devices rule need only one stream. Personal data lives only under `pii`.
 */
interface UserFact {
  appId: string;
  at: string;
}

/** `deviceRevision`: the device stream revision this follows, so late or repeated links are ignored. */
export type UserDeviceLinked = {
  type: 'UserDeviceLinked';
  data: UserFact & { deviceId: string; deviceRevision: number; lastSeenAt: string; pii: UserPii };
};

/** `deviceRevision` is null when the user stream decided it (max devices) rather than following the device. */
export type UserDeviceUnlinked = {
  type: 'UserDeviceUnlinked';
  data: UserFact & {
    deviceId: string;
    deviceRevision: number | null;
    reason: 'logout' | 'moved' | 'unregistered' | 'max_devices';
    pii: UserPii;
  };
};

/**
 * Only the traits that changed, with their new values (`null` is a value, not a removal). `observedAt`: when
 * the source saw them (a Segment message's time); absent, `at`. A trait observed earlier than its stored value
 * does not replace it, so messages applied out of order (other partitions, late retries) end as sent.
 */
export type UserTraitsUpdated = { type: 'UserTraitsUpdated'; data: UserFact & { observedAt?: string; pii: UserPii & { traits: JsonObject } } };

/** Global unsubscribe: blocks every non-transactional push. */
export type UserUnsubscribed = { type: 'UserUnsubscribed'; data: UserFact & { pii: UserPii } };
export type UserResubscribed = { type: 'UserResubscribed'; data: UserFact & { pii: UserPii } };

/**
 * Subscription topics the user turned on (`true`) or off (`false`); only the ones that changed. A topic never
 * set counts as on. Like `unsubscribed`, consent state lives outside `pii`: it must stay readable to honour it.
 */
export type UserTopicsChanged = { type: 'UserTopicsChanged'; data: UserFact & { topics: Record<string, boolean>; pii: UserPii } };

/**
 * The user's personal data is to be forgotten: their devices (`deviceIds`, not personal) are
 * anonymised and the user id stays suppressed (cannot be identified again) until lifted.
 */
export type UserErased = { type: 'UserErased'; data: UserFact & { deviceIds: string[]; pii: UserPii } };
export type UserErasureLifted = { type: 'UserErasureLifted'; data: UserFact & { pii: UserPii } };

export type UserEvent =
  | UserDeviceLinked
  | UserDeviceUnlinked
  | UserTraitsUpdated
  | UserUnsubscribed
  | UserResubscribed
  | UserTopicsChanged
  | UserErased
  | UserErasureLifted;

export const UserEventTypes = [
  'UserDeviceLinked',
  'UserDeviceUnlinked',
  'UserTraitsUpdated',
  'UserUnsubscribed',
  'UserResubscribed',
  'UserTopicsChanged',
  'UserErased',
  'UserErasureLifted',
] as const satisfies readonly UserEvent['type'][];
export type UserEventType = (typeof UserEventTypes)[number];
const _everyUserEventListed: CoversAll<UserEvent['type'], UserEventType> = true;

export const UserEventSchemaVersions = {
  UserDeviceLinked: 1,
  UserDeviceUnlinked: 1,
  UserTraitsUpdated: 1,
  UserUnsubscribed: 1,
  UserResubscribed: 1,
  UserTopicsChanged: 1,
  UserErased: 1,
  UserErasureLifted: 1,
} as const satisfies Record<UserEvent['type'], number>;

export type UserEventOf<T extends UserEventType> = Extract<UserEvent, { type: T }>;
