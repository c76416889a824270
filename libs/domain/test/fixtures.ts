import type { DeviceAttributesPatch, DeviceEvent, DeviceEventOf, DeviceEventType, Platform, Provider } from '@pushledger/contracts';
import type { DeviceCommand, DeviceCommandOf, DeviceCommandType } from '../src/device.commands';
import { EMPTY_ATTRIBUTES } from '../src/device.decider';
import { DAY_MS, HOUR_MS } from '../src/time';

export const APP = 'app_test';
export const DEV = 'dev-1';
export const T0 = new Date('2025-03-01T08:00:00.000Z');
export const after = (ms: number, from: Date = T0): Date => new Date(from.getTime() + ms);
export const minutes = (n: number): number => n * 60_000;
export const hours = (n: number): number => n * HOUR_MS;
export const days = (n: number): number => n * DAY_MS;

/** A device command for DEV with only the fields that matter spelled out. */
export function cmd<T extends DeviceCommandType>(
  type: T,
  fields: Omit<DeviceCommandOf<T>, 'type' | 'appId' | 'deviceId'> & { deviceId?: string },
): DeviceCommand {
  return { ...fields, appId: APP, deviceId: fields.deviceId ?? DEV, type } as DeviceCommand;
}

export function register(
  token: string,
  more: { claim?: number; attributes?: DeviceAttributesPatch; pushEnabled?: boolean | null; provider?: Provider; platform?: Platform; deviceId?: string } = {},
): DeviceCommand {
  return cmd('RegisterToken', {
    token,
    provider: more.provider ?? 'fcm',
    platform: more.platform ?? 'android',
    claim: more.claim ?? 1,
    attributes: more.attributes ?? {},
    pushEnabled: more.pushEnabled ?? null,
    deviceId: more.deviceId,
  });
}

/** A device fact on DEV at `now`, with only the type-specific fields spelled out. */
export function ev<T extends DeviceEventType>(
  type: T,
  now: Date,
  fields: Omit<DeviceEventOf<T>['data'], 'appId' | 'deviceId' | 'at'> & { deviceId?: string },
): DeviceEvent {
  return { type, data: { ...fields, appId: APP, deviceId: fields.deviceId ?? DEV, at: now.toISOString() } } as DeviceEvent;
}

export function registered(token: string, now: Date = T0, more: { claim?: number; pushEnabled?: boolean | null; deviceId?: string } = {}): DeviceEvent {
  return ev('TokenRegistered', now, {
    token,
    provider: 'fcm',
    platform: 'android',
    claim: more.claim ?? 1,
    attributes: EMPTY_ATTRIBUTES,
    pushEnabled: more.pushEnabled ?? null,
    deviceId: more.deviceId,
  });
}
