import { createHash } from 'crypto';

/** Apps are event-sourced too (`app-<appId>`), so every service can load an app's settings from the store. */
export type DevicePolicy = 'all' | 'last_active' | 'most_recent';
export const DEVICE_POLICIES: readonly DevicePolicy[] = ['all', 'last_active', 'most_recent'];

/** The shape of every app id (`app_` and lowercase letters or digits): never a '-', which separates stream name parts. */
export const isAppId = (id: string): boolean => /^app_[a-z0-9]+$/.test(id);

export interface AppSettingsV1 {
  devicePolicy: DevicePolicy;
  staleAfterDays: number;
  maxDevicesPerUser: number;
  /** Requests per second one key may make to the gateway before 429. */
  rateLimitPerSecond: number;
  /** FCM messages per minute the delivery service keeps under for this app. */
  fcmQuotaPerMinute: number;
  /** A write-key request naming a user must prove it with `userHash` (libs/platform user-hash.ts). */
  identityVerification: boolean;
}

/** The settings a request names; the others stay as they are (or take their defaults on creation). */
export type AppSettingsPatch = Partial<AppSettingsV1>;

export const DEFAULT_APP_SETTINGS: AppSettingsV1 = {
  devicePolicy: 'all',
  staleAfterDays: 60,
  maxDevicesPerUser: 50,
  rateLimitPerSecond: 2000,
  fcmQuotaPerMinute: 600_000,
  identityVerification: false,
};

export interface AppFcmV1 {
  projectId: string;
  /** Google service-account JSON; null means the bundled simulator / FCM_ENDPOINT. */
  serviceAccount: Record<string, unknown> | null;
}

export type AppEvent =
  | { type: 'AppCreated'; data: { appId: string; name: string; writeKeyHash: string; serverKeyHash: string; identitySecretHash?: string; fcm: AppFcmV1; settings: AppSettingsV1; createdAt: string } }
  | { type: 'AppSettingsChanged'; data: { appId: string; settings: AppSettingsV1; changedAt: string } }
  | { type: 'AppKeysRotated'; data: { appId: string; writeKeyHash: string; serverKeyHash: string; rotatedAt: string } };

export const APP_EVENT_TYPES = ['AppCreated', 'AppSettingsChanged', 'AppKeysRotated'] as const;

export interface AppRecord {
  id: string;
  name: string;
  writeKeyHash: string;
  serverKeyHash: string;
  /** See identitySecretHash in libs/platform user-hash.ts; absent on apps created before identity verification. */
  identitySecretHash?: string;
  fcm: AppFcmV1;
  settings: AppSettingsV1;
  createdAt: string;
}

export function evolveApp(app: AppRecord | undefined, event: AppEvent): AppRecord | undefined {
  switch (event.type) {
    case 'AppCreated':
      return {
        id: event.data.appId,
        name: event.data.name,
        writeKeyHash: event.data.writeKeyHash,
        serverKeyHash: event.data.serverKeyHash,
        ...(event.data.identitySecretHash ? { identitySecretHash: event.data.identitySecretHash } : {}),
        fcm: event.data.fcm,
        // Facts stored before a setting existed read with its default.
        settings: { ...DEFAULT_APP_SETTINGS, ...event.data.settings },
        createdAt: event.data.createdAt,
      };
    case 'AppSettingsChanged':
      return app && { ...app, settings: { ...DEFAULT_APP_SETTINGS, ...event.data.settings } };
    case 'AppKeysRotated':
      return app && { ...app, writeKeyHash: event.data.writeKeyHash, serverKeyHash: event.data.serverKeyHash };
    default: {
      const _exhaustive: never = event;
      return app;
    }
  }
}

/** Keys are stored and compared as hashes; the keys themselves are shown once, at creation. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/**
 * An app as the gateway's directory holds it (for auth and settings): from the ListApps and GetApp queries,
 * the replies to app commands, and `pushledger.apps.v1`. Key hashes, no credentials. `revision`: the app
 * stream's revision it reflects, so entries arriving in any order apply once, newest last.
 */
export interface AppDirectoryEntryV1 {
  id: string;
  name: string;
  writeKeyHash: string;
  serverKeyHash: string;
  identitySecretHash?: string;
  fcm: { projectId: string; hasServiceAccount: boolean };
  settings: AppSettingsV1;
  createdAt: string;
  revision: number;
}

export function directoryEntryOf(app: AppRecord, revision: number): AppDirectoryEntryV1 {
  return {
    id: app.id,
    name: app.name,
    writeKeyHash: app.writeKeyHash,
    serverKeyHash: app.serverKeyHash,
    ...(app.identitySecretHash ? { identitySecretHash: app.identitySecretHash } : {}),
    fcm: { projectId: app.fcm.projectId, hasServiceAccount: app.fcm.serviceAccount !== null },
    settings: app.settings,
    createdAt: app.createdAt,
    revision,
  };
}
