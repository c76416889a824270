import { DeviceEventSchemaVersions, DeviceEventTypes, type DeviceEvent } from './device-events';
import { TokenEventSchemaVersions, TokenEventTypes, type TokenEvent } from './token-events';
import { UserEventSchemaVersions, UserEventTypes, type UserEvent } from './user-events';

export * from './common';
export * from './app-settings';
export * from './device-events';
export * from './user-events';
export * from './token-events';
export * from './commands';

/** Every stored lifecycle fact. Type names are unique across streams, so `type` alone identifies a fact. */
export type PushledgerEvent = DeviceEvent | UserEvent | TokenEvent;
export type PushledgerEventType = PushledgerEvent['type'];
export const PushledgerEventTypes: readonly PushledgerEventType[] = [...DeviceEventTypes, ...UserEventTypes, ...TokenEventTypes];

export const EventSchemaVersions = {
  ...DeviceEventSchemaVersions,
  ...UserEventSchemaVersions,
  ...TokenEventSchemaVersions,
} as const satisfies Record<PushledgerEventType, number>;

export function schemaVersionOf(type: PushledgerEventType): number {
  return EventSchemaVersions[type];
}

const deviceTypes: ReadonlySet<string> = new Set(DeviceEventTypes);
const userTypes: ReadonlySet<string> = new Set(UserEventTypes);
const tokenTypes: ReadonlySet<string> = new Set(TokenEventTypes);

export const isDeviceEvent = (e: { type: string }): e is DeviceEvent => deviceTypes.has(e.type);
export const isUserEvent = (e: { type: string }): e is UserEvent => userTypes.has(e.type);
export const isTokenEvent = (e: { type: string }): e is TokenEvent => tokenTypes.has(e.type);
