import { createHash } from 'crypto';
import type { Provider } from './events/common';

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

/**
 * A credential sealed at rest (see `sealCredential` in libs/platform): `v1.<kid>.<base64url(iv | tag | ciphertext)>`,
 * AES-256-GCM under the key-encryption key (PUSHLEDGER_SECRET_KEY), bound to the app and the credential's kind.
 * Only the process that uses the credential (delivery) opens it.
 */
export interface SealedCredentialV1 {
  $sealed: string;
}

/** Which credential a sealed value is: part of its associated data, so a blob cannot be moved to another field or app. */
export type CredentialKind = 'fcm.serviceAccount' | 'apns.privateKey' | 'webpush.privateKey' | 'webhook.secret' | 'webhook.body' | 'idempotency.answer' | 'app.identitySecretHash';

/**
 * The identity secret's SHA-256 as stored: sealed like a credential (it proves user ids as the secret does),
 * or the plain hex of apps created before it was sealed (or without PUSHLEDGER_SECRET_KEY). Opened only
 * where user hashes are verified (`openIdentitySecretHash` in libs/platform).
 */
export type StoredIdentitySecretHash = string | SealedCredentialV1;

export function isSealedCredential(value: unknown): value is SealedCredentialV1 {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as SealedCredentialV1).$sealed === 'string' && Object.keys(value).length === 1;
}

export interface AppFcmV1 {
  projectId: string;
  /** The Google service-account JSON, sealed; null means the bundled simulator / FCM_ENDPOINT. */
  serviceAccount: SealedCredentialV1 | null;
}

/** Token-based APNs auth (.p8): the key signs an ES256 JWT (iss team id, kid key id); `bundleId` is the apns-topic. */
export interface AppApnsV1 {
  teamId: string;
  keyId: string;
  bundleId: string;
  /** The .p8 PEM, sealed (kind `apns.privateKey`). */
  privateKey: SealedCredentialV1;
  /** api.push.apple.com; false: api.sandbox.push.apple.com. */
  production: boolean;
}

/**
 * Web Push VAPID credentials (RFC 8292): the app's P-256 key pair, base64url (the public key uncompressed, 65 bytes;
 * the private key its 32-byte scalar). `subject` (`mailto:` or https URL) goes into every JWT as `sub`.
 */
export interface AppWebpushV1 {
  subject: string;
  publicKey: string;
  /** The private key, sealed (kind `webpush.privateKey`). */
  privateKey: SealedCredentialV1;
}

/** Keys replaced by a rotation that still open the app until `validUntil` (ISO). */
export interface PreviousAppKeysV1 {
  writeKeyHash: string;
  serverKeyHash: string;
  validUntil: string;
}

export type AppEvent =
  | { type: 'AppCreated'; data: { appId: string; name: string; writeKeyHash: string; serverKeyHash: string; identitySecretHash?: StoredIdentitySecretHash; fcm: AppFcmV1; apns?: AppApnsV1 | null; webpush?: AppWebpushV1 | null; settings: AppSettingsV1; createdAt: string } }
  | { type: 'AppSettingsChanged'; data: { appId: string; settings: AppSettingsV1; changedAt: string } }
  | { type: 'AppKeysRotated'; data: { appId: string; writeKeyHash: string; serverKeyHash: string; rotatedAt: string; previous?: PreviousAppKeysV1 } }
  /** null: the app's APNs credentials were removed. */
  | { type: 'AppApnsChanged'; data: { appId: string; apns: AppApnsV1 | null; changedAt: string } }
  /** null: the app's VAPID credentials were removed. */
  | { type: 'AppWebpushChanged'; data: { appId: string; webpush: AppWebpushV1 | null; changedAt: string } };

export const APP_EVENT_TYPES = ['AppCreated', 'AppSettingsChanged', 'AppKeysRotated', 'AppApnsChanged', 'AppWebpushChanged'] as const;

export interface AppRecord {
  id: string;
  name: string;
  writeKeyHash: string;
  serverKeyHash: string;
  /** See StoredIdentitySecretHash; absent on apps created before identity verification. */
  identitySecretHash?: StoredIdentitySecretHash;
  fcm: AppFcmV1;
  /** null: no APNs credentials (APNs devices are skipped with `no_credentials` unless a simulator stands in). */
  apns: AppApnsV1 | null;
  /** null: no VAPID credentials (web push devices are skipped with `no_credentials` unless a simulator stands in). */
  webpush: AppWebpushV1 | null;
  settings: AppSettingsV1;
  createdAt: string;
  /** Set by a rotation with a grace period; past `validUntil` these keys open nothing. */
  previousKeys?: PreviousAppKeysV1;
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
        apns: event.data.apns ?? null,
        webpush: event.data.webpush ?? null,
        // Facts stored before a setting existed read with its default.
        settings: { ...DEFAULT_APP_SETTINGS, ...event.data.settings },
        createdAt: event.data.createdAt,
      };
    case 'AppSettingsChanged':
      return app && { ...app, settings: { ...DEFAULT_APP_SETTINGS, ...event.data.settings } };
    case 'AppKeysRotated':
      return app && { ...app, writeKeyHash: event.data.writeKeyHash, serverKeyHash: event.data.serverKeyHash, previousKeys: event.data.previous };
    case 'AppApnsChanged':
      return app && { ...app, apns: event.data.apns };
    case 'AppWebpushChanged':
      return app && { ...app, webpush: event.data.webpush };
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
  identitySecretHash?: StoredIdentitySecretHash;
  fcm: { projectId: string; hasServiceAccount: boolean };
  /** Absent: no APNs credentials. Never the key itself. */
  apns?: AppApnsSummaryV1;
  /** Absent: no VAPID credentials. Never the private key. */
  webpush?: AppWebpushSummaryV1;
  settings: AppSettingsV1;
  createdAt: string;
  revision: number;
  previousKeys?: PreviousAppKeysV1;
}

export function directoryEntryOf(app: AppRecord, revision: number): AppDirectoryEntryV1 {
  return {
    id: app.id,
    name: app.name,
    writeKeyHash: app.writeKeyHash,
    serverKeyHash: app.serverKeyHash,
    ...(app.identitySecretHash ? { identitySecretHash: app.identitySecretHash } : {}),
    fcm: { projectId: app.fcm.projectId, hasServiceAccount: app.fcm.serviceAccount !== null },
    ...(app.apns ? { apns: apnsSummaryOf(app.apns) } : {}),
    ...(app.webpush ? { webpush: webpushSummaryOf(app.webpush) } : {}),
    settings: app.settings,
    createdAt: app.createdAt,
    revision,
    ...(app.previousKeys ? { previousKeys: app.previousKeys } : {}),
  };
}

/** The app a key opens: its current keys, or the previous ones until their grace period ends. */
export function keyStillValid(previous: PreviousAppKeysV1 | undefined, keyHash: string, now: number): 'write' | 'server' | undefined {
  if (!previous || Date.parse(previous.validUntil) <= now) return undefined;
  return keyHash === previous.writeKeyHash ? 'write' : keyHash === previous.serverKeyHash ? 'server' : undefined;
}

/** What reads show of an app's APNs credentials: everything but the private key. */
export interface AppApnsSummaryV1 {
  teamId: string;
  keyId: string;
  bundleId: string;
  production: boolean;
  hasPrivateKey: true;
}

export function apnsSummaryOf(apns: AppApnsV1): AppApnsSummaryV1 {
  return { teamId: apns.teamId, keyId: apns.keyId, bundleId: apns.bundleId, production: apns.production, hasPrivateKey: true };
}

/** What reads show of an app's VAPID credentials: the subject and the public key (browsers subscribe with it), never the private key. */
export interface AppWebpushSummaryV1 {
  subject: string;
  publicKey: string;
  hasPrivateKey: true;
}

export function webpushSummaryOf(webpush: AppWebpushV1): AppWebpushSummaryV1 {
  return { subject: webpush.subject, publicKey: webpush.publicKey, hasPrivateKey: true };
}

/**
 * The providers an app can send through: its own credentials, or a stand-in (FCM_ENDPOINT, a bundled
 * simulator) that takes sends without them. A device of any other provider is skipped with `no_credentials`.
 */
export function sendableProviders(app: Pick<AppRecord, 'fcm' | 'apns' | 'webpush'>, standIns: { fcm: boolean; apns: boolean; webpush: boolean }): Provider[] {
  const providers: Provider[] = [];
  if (app.fcm.serviceAccount !== null || standIns.fcm) providers.push('fcm');
  if (app.apns !== null || standIns.apns) providers.push('apns');
  if (app.webpush !== null || standIns.webpush) providers.push('webpush');
  return providers;
}
