import type { AppFcmV1, AppSettingsPatch } from './apps';
import type { RegistryCommandOf } from './events/commands';

interface CommandMeta {
  commandId: string;
  appId: string;
  issuedAt: string;
}

/** Sent by the identity service when a user went past maxDevicesPerUser. */
export type DetachDeviceCommand = CommandMeta & { type: 'DetachDevice'; deviceId: string; expectedOwner: string; reason: 'max_devices' };
/** Sent by the identity service after an erasure, for each device the user had. */
export type AnonymiseDeviceCommand = CommandMeta & { type: 'AnonymiseDevice'; deviceId: string; userId: string };

/** The device commands the registration service accepts on `pushledger.registration-commands.v1` (app commands: AppAdminCommand). */
export type RegistrationCommand =
  | RegistryCommandOf<'RegisterToken'>
  | RegistryCommandOf<'Identify'>
  | RegistryCommandOf<'Logout'>
  | RegistryCommandOf<'UpdateDeviceAttributes'>
  | RegistryCommandOf<'ChangePushPermission'>
  | RegistryCommandOf<'MarkSeen'>
  | RegistryCommandOf<'RecordPushSent'>
  | RegistryCommandOf<'RecordPushBounced'>
  | RegistryCommandOf<'InvalidateToken'>
  | RegistryCommandOf<'ExpireToken'>
  | RegistryCommandOf<'UnregisterDevice'>
  | DetachDeviceCommand
  | AnonymiseDeviceCommand;

/**
 * App commands the gateway sends to the registration service (on its command topic, keyed by app id):
 * that service owns the `app-<appId>` streams. Keys are generated at the gateway; only their hashes travel.
 */
export type CreateAppCommand = CommandMeta & { type: 'CreateApp'; name: string; writeKeyHash: string; serverKeyHash: string; fcm: AppFcmV1; settings: AppSettingsPatch };
export type ChangeAppSettingsCommand = CommandMeta & { type: 'ChangeAppSettings'; settings: AppSettingsPatch };
export type AppAdminCommand = CreateAppCommand | ChangeAppSettingsCommand;

/** What the identity service accepts on `pushledger.identity-commands.v1`. */
export type IdentityCommand =
  | RegistryCommandOf<'UpdateTraits'>
  | RegistryCommandOf<'Unsubscribe'>
  | RegistryCommandOf<'Resubscribe'>
  | RegistryCommandOf<'EraseUser'>
  | RegistryCommandOf<'LiftErasure'>;

export const REGISTRATION_COMMAND_TYPES = [
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
  'DetachDevice',
  'AnonymiseDevice',
] as const satisfies readonly RegistrationCommand['type'][];
export const APP_ADMIN_COMMAND_TYPES = ['CreateApp', 'ChangeAppSettings'] as const satisfies readonly AppAdminCommand['type'][];
export const IDENTITY_COMMAND_TYPES = ['UpdateTraits', 'Unsubscribe', 'Resubscribe', 'EraseUser', 'LiftErasure'] as const satisfies readonly IdentityCommand['type'][];
