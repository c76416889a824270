import type { DeviceStatus, LastStatus, Platform, Provider } from '@pushledger/contracts';
import type { DeviceState } from './device.decider';

/** The device as the API shows it (api.md), plus what sending needs. The token is unmasked here; the gateway masks it. */
export interface DeviceView {
  id: string;
  appId: string;
  userId: string | null;
  platform: Platform;
  provider: Provider;
  token: string | null;
  status: DeviceStatus;
  lastStatus: LastStatus;
  pushEnabled: boolean | null;
  model: string | null;
  osVersion: string | null;
  appVersion: string | null;
  locale: string | null;
  timezone: string | null;
  registeredAt: string;
  lastSeenAt: string;
  revision: number;
  consecutiveBounces: number;
  /** When the current token was first registered on this device (for the `most_recent` policy). */
  tokenRegisteredAt: string | null;
}

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

/** The app deleted the registration: reads answer 404 and sends pass it over, as for a device that never existed. */
export const isUnregistered = (d: { status: DeviceStatus }): boolean => d.status === 'unregistered';
