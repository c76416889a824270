import type { JsonObject } from '@pushledger/contracts';

interface UserTarget {
  appId: string;
  userId: string;
}

export type UserCommand = UserTarget &
  (
    | {
        type: 'LinkDevice';
        deviceId: string;
        /** Revision of the device stream after the Identified fact this follows. */
        deviceRevision: number;
        lastSeenAt: string;
        /** Fresher lastSeenAt of the user's other devices (from the device read model); missing ones use what the user stream recorded. */
        knownLastSeen: Record<string, string>;
        maxDevicesPerUser: number;
      }
    | { type: 'UnlinkDevice'; deviceId: string; deviceRevision: number; reason: 'logout' | 'moved' | 'unregistered' | 'max_devices' }
    | { type: 'UpdateTraits'; traits: JsonObject; observedAt?: string }
    | { type: 'Unsubscribe' }
    | { type: 'Resubscribe' }
    | { type: 'ChangeTopics'; topics: Record<string, boolean> }
    | { type: 'EraseUser' }
    | { type: 'LiftErasure' }
  );

export type UserCommandType = UserCommand['type'];
export type UserCommandOf<T extends UserCommandType> = Extract<UserCommand, { type: T }>;
