import type { DeviceAttributesPatch, Platform, Provider } from '@pushledger/contracts';

/**
 * What the device decider accepts. Unlike the wire commands (contracts), these are resolved to one
 * device stream and carry the inputs other streams supply (claim generations, expected owners).
 */
interface DeviceTarget {
  appId: string;
  deviceId: string;
}

export type DeviceCommand = DeviceTarget &
  (
    | {
        type: 'RegisterToken';
        token: string;
        provider: Provider;
        platform: Platform;
        /** The token stream's claim generation after this device claimed the token. */
        claim: number;
        attributes: DeviceAttributesPatch;
        /** null: the app did not report the OS permission this time. */
        pushEnabled: boolean | null;
      }
    | { type: 'Identify'; userId: string }
    /** Logs out only if `expectedOwner` still owns the device, so late or repeated logouts change nothing. */
    | { type: 'Logout'; expectedOwner: string }
    | { type: 'MarkSeen' }
    | { type: 'UpdateDeviceAttributes'; attributes: DeviceAttributesPatch }
    | { type: 'ChangePushPermission'; pushEnabled: boolean }
    /** Outcomes and invalidations name the token by its hash: the token itself stays in the device's sealed facts. */
    | { type: 'RecordPushSent'; tokenHash: string; messageId: string }
    | { type: 'RecordPushBounced'; tokenHash: string; messageId: string; reason: string }
    | { type: 'InvalidateToken'; tokenHash: string; reason: string; messageId: string | null; invalidSince?: string }
    | { type: 'ExpireToken'; staleAfterDays: number }
    /** The token was claimed by `toDeviceId` under generation `claim`. */
    | { type: 'ReleaseToken'; token: string; toDeviceId: string; claim: number }
    | { type: 'DetachDevice'; expectedOwner: string; reason: 'max_devices' }
    | { type: 'AnonymiseDevice'; userId: string }
    /** Logs the owner out, then the device is gone for reads and sends until a token is registered on it again. */
    | { type: 'UnregisterDevice' }
  );

export type DeviceCommandType = DeviceCommand['type'];
export type DeviceCommandOf<T extends DeviceCommandType> = Extract<DeviceCommand, { type: T }>;
