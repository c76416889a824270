import type { DeviceEvent, UserEvent } from '@pushledger/contracts';
import type { DeviceCommand } from './device.commands';
import type { TokenOwnershipState } from './token-ownership.decider';
import type { UserCommand } from './user.commands';

/**
 * What a service must do on other streams after facts were written on one (see README). Pure:
 * the service supplies what it read, then sends each returned command to its stream's decider.
 */

export interface LinkContext {
  maxDevicesPerUser: number;
  /** lastSeenAt of the user's devices from the device read model (may be empty). */
  knownLastSeen: Record<string, string>;
}

/** Keeps the user stream's device list in step with a device fact written at `deviceRevision`. */
export function membershipFollowUp(event: DeviceEvent, deviceRevision: number, link: LinkContext): UserCommand | null {
  const { appId, deviceId } = event.data;
  switch (event.type) {
    case 'Identified':
      return {
        type: 'LinkDevice',
        appId,
        userId: event.data.pii.userId,
        deviceId,
        deviceRevision,
        lastSeenAt: event.data.at,
        knownLastSeen: link.knownLastSeen,
        maxDevicesPerUser: link.maxDevicesPerUser,
      };
    case 'LoggedOut':
      return { type: 'UnlinkDevice', appId, userId: event.data.pii.userId, deviceId, deviceRevision, reason: event.data.reason };
    default:
      // DeviceDetached and DeviceAnonymised are themselves follow-ups of user facts: nothing to echo back.
      return null;
  }
}

/** Devices to detach (max devices) or anonymise (erasure) after user facts. */
export function deviceFollowUps(events: readonly UserEvent[]): DeviceCommand[] {
  return events.flatMap((e): DeviceCommand[] => {
    const userId = e.data.pii.userId;
    if (e.type === 'UserDeviceUnlinked' && e.data.reason === 'max_devices' && e.data.deviceRevision === null) {
      return [{ type: 'DetachDevice', appId: e.data.appId, deviceId: e.data.deviceId, expectedOwner: userId, reason: 'max_devices' }];
    }
    if (e.type === 'UserErased') {
      return e.data.deviceIds.map((deviceId): DeviceCommand => ({ type: 'AnonymiseDevice', appId: e.data.appId, deviceId, userId }));
    }
    return [];
  });
}

/**
 * After `deviceId` claimed `token`: the release for the device that held it before. Safe to send
 * again (a repeated claim returns the same release), since the device applies it only once and
 * only if it has not re-claimed the token since.
 */
export function releaseFollowUp(token: string, deviceId: string, ownership: TokenOwnershipState): DeviceCommand | null {
  const previous = ownership.previousDeviceId;
  if (ownership.ownerDeviceId !== deviceId || previous === null || previous === deviceId) return null;
  return { type: 'ReleaseToken', appId: ownership.appId, deviceId: previous, token, toDeviceId: deviceId, claim: ownership.claim };
}

/**
 * After the token stream retired a token: invalidate it on the device holding it (per the token
 * stream) and on the device the failing push went to, if different.
 */
export function invalidationFollowUps(
  hash: string,
  ownership: TokenOwnershipState,
  report: { deviceId: string | null; reason: string; messageId: string | null; invalidSince?: string },
): DeviceCommand[] {
  const ids = [...new Set([ownership.ownerDeviceId, report.deviceId].filter((id): id is string => id !== null))];
  return ids.map((deviceId): DeviceCommand => ({
    type: 'InvalidateToken',
    appId: ownership.appId,
    deviceId,
    tokenHash: hash,
    reason: report.reason,
    messageId: report.messageId,
    ...(report.invalidSince !== undefined ? { invalidSince: report.invalidSince } : {}),
  }));
}
