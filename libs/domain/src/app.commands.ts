import type { AppApnsV1, AppFcmV1, AppWebpushV1, AppSettingsPatch, StoredIdentitySecretHash } from '@pushledger/contracts';

/** What the app decider accepts: the wire commands (contracts) without their envelope. */
export type AppCommand = { appId: string } & (
  | { type: 'CreateApp'; name: string; writeKeyHash: string; serverKeyHash: string; identitySecretHash?: StoredIdentitySecretHash; fcm: AppFcmV1; apns?: AppApnsV1 | null; webpush?: AppWebpushV1 | null; settings: AppSettingsPatch }
  /** Only the named settings change; a change that changes nothing is no fact. `apns` / `webpush` (sealed) replace that provider's credentials; null removes them. */
  | { type: 'ChangeAppSettings'; settings: AppSettingsPatch; apns?: AppApnsV1 | null; webpush?: AppWebpushV1 | null }
  /** New key hashes; the replaced keys keep opening the app for `graceSeconds` (0: not at all). */
  | { type: 'RotateAppKeys'; writeKeyHash: string; serverKeyHash: string; graceSeconds: number }
);

export type AppCommandType = AppCommand['type'];
export type AppCommandOf<T extends AppCommandType> = Extract<AppCommand, { type: T }>;
