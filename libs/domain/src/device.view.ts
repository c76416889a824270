import type { DeviceView } from '@pushledger/contracts';
import type { DeviceState } from './device.decider';

export { isUnregistered, type DeviceView } from '@pushledger/contracts';

export function toDeviceView(s: DeviceState): DeviceView {
  return {
    id: s.deviceId,
    appId: s.appId,
    userId: s.userId,
    platform: s.platform,
    provider: s.provider,
    token: s.token,
    status: s.status,
    lastStatus: s.lastStatus,
    pushEnabled: s.pushEnabled,
    ...s.attributes,
    registeredAt: s.registeredAt,
    lastSeenAt: s.lastSeenAt,
    revision: s.revision,
    consecutiveBounces: s.consecutiveBounces,
    tokenRegisteredAt: s.tokenRegisteredAt,
  };
}
