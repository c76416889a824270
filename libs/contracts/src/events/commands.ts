import type { CoversAll, DeviceAttributesPatch, JsonObject, Platform, Provider } from './common';

/**
 * Commands as they travel over Kafka (gateway → registration / identity services). Plain JSON:
 * times are ISO strings. `commandId` is the idempotency key: the same id is applied once.
 * `issuedAt` is when the gateway accepted the request.
 */
interface CommandMeta {
  commandId: string;
  appId: string;
  issuedAt: string;
}

/** A device named by id, or by its current token (the service resolves it). */
export type DeviceRef = { deviceId: string } | { token: string };

/** Register or refresh. `deviceId: null`: derive it from the token. `userId` set: identify right after. */
export type RegisterTokenCommand = CommandMeta & {
  type: 'RegisterToken';
  deviceId: string | null;
  token: string;
  provider: Provider;
  platform: Platform;
  attributes: DeviceAttributesPatch;
  pushEnabled: boolean | null;
  userId: string | null;
};

/** Associate the device with the user (moving it from a previous owner) and merge traits. */
export type IdentifyCommand = CommandMeta & { type: 'Identify'; device: DeviceRef; userId: string; traits: JsonObject | null };

/**
 * clearIdentify. `expectedOwner`: the user the caller logs out; when the client does not say, the
 * gateway fills in the owner at the time it accepted the request, so a late logout cannot log out
 * someone who identified on the device since.
 */
export type LogoutCommand = CommandMeta & { type: 'Logout'; device: DeviceRef; expectedOwner: string | null };

export type UpdateDeviceAttributesCommand = CommandMeta & {
  type: 'UpdateDeviceAttributes';
  device: DeviceRef;
  attributes: DeviceAttributesPatch;
};
export type ChangePushPermissionCommand = CommandMeta & { type: 'ChangePushPermission'; device: DeviceRef; pushEnabled: boolean };
/** The app was opened. */
export type MarkSeenCommand = CommandMeta & { type: 'MarkSeen'; device: DeviceRef };

/**
 * Delivery outcomes name the token the push went to by its hash (`tokenHash`), so an outcome for a replaced token
 * changes nothing and no whole token travels back over Kafka.
 */
export type RecordPushSentCommand = CommandMeta & { type: 'RecordPushSent'; deviceId: string; tokenHash: string; messageId: string };
export type RecordPushBouncedCommand = CommandMeta & {
  type: 'RecordPushBounced';
  deviceId: string;
  tokenHash: string;
  messageId: string;
  reason: string;
};
/** `reason`: the provider's error code (e.g. `UNREGISTERED`). */
export type InvalidateTokenCommand = CommandMeta & {
  type: 'InvalidateToken';
  deviceId: string | null;
  tokenHash: string;
  messageId: string | null;
  reason: string;
  /** When the provider says the token stopped being valid (APNs 410 `timestamp`, ISO): a registration after it keeps the token. */
  invalidSince?: string;
};
/** Issued by the staleness job for a device whose lastSeenAt is past the app's window. */
export type ExpireTokenCommand = CommandMeta & { type: 'ExpireToken'; deviceId: string; staleAfterDays: number };

/** Deletes the registration (Twilio's DELETE): the device is logged out and gone for reads and sends; its token is free to register again. */
export type UnregisterDeviceCommand = CommandMeta & { type: 'UnregisterDevice'; deviceId: string };

/** `observedAt`: when the source saw the traits (ISO-8601), if it says; else when the command is applied. */
export type UpdateTraitsCommand = CommandMeta & { type: 'UpdateTraits'; userId: string; traits: JsonObject; observedAt?: string };
export type UnsubscribeCommand = CommandMeta & { type: 'Unsubscribe'; userId: string };
export type ResubscribeCommand = CommandMeta & { type: 'Resubscribe'; userId: string };
/** Turn subscription topics on (`true`) or off (`false`); topics not named keep their setting. */
export type ChangeTopicsCommand = CommandMeta & { type: 'ChangeTopics'; userId: string; topics: Record<string, boolean> };
export type EraseUserCommand = CommandMeta & { type: 'EraseUser'; userId: string };
/** Allow an erased user id to be identified again. */
export type LiftErasureCommand = CommandMeta & { type: 'LiftErasure'; userId: string };

export type RegistryCommand =
  | RegisterTokenCommand
  | IdentifyCommand
  | LogoutCommand
  | UpdateDeviceAttributesCommand
  | ChangePushPermissionCommand
  | MarkSeenCommand
  | RecordPushSentCommand
  | RecordPushBouncedCommand
  | InvalidateTokenCommand
  | ExpireTokenCommand
  | UnregisterDeviceCommand
  | UpdateTraitsCommand
  | UnsubscribeCommand
  | ResubscribeCommand
  | ChangeTopicsCommand
  | EraseUserCommand
  | LiftErasureCommand;

export const RegistryCommandTypes = [
  'RegisterToken',
  'Identify',
  'Logout',
  'UpdateDeviceAttributes',
  'ChangePushPermission',
  'MarkSeen',
  'RecordPushSent',
  'RecordPushBounced',
  'InvalidateToken',
  'ExpireToken',
  'UnregisterDevice',
  'UpdateTraits',
  'Unsubscribe',
  'Resubscribe',
  'ChangeTopics',
  'EraseUser',
  'LiftErasure',
] as const satisfies readonly RegistryCommand['type'][];
export type RegistryCommandType = (typeof RegistryCommandTypes)[number];
const _everyCommandListed: CoversAll<RegistryCommand['type'], RegistryCommandType> = true;

export type RegistryCommandOf<T extends RegistryCommandType> = Extract<RegistryCommand, { type: T }>;
