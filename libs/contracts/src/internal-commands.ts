import type { CreationKey, ListPageV1 } from './list-page';
import type { AppApnsV1, AppDirectoryEntryV1, AppFcmV1, AppSettingsPatch, AppWebpushV1, StoredIdentitySecretHash } from './apps';
import type { DeliveryOutcomeKind } from './delivery';
import type { DeviceStatus, LastStatus } from './events';
import type { DeviceRef, RegistryCommandOf } from './events/commands';
import type { DeviceView, HistoryEntry, UserView } from './views';
import type { CreateWebhookCommand, DeleteWebhookCommand, ListWebhooksQuery } from './webhooks';

interface CommandMeta {
  commandId: string;
  appId: string;
  issuedAt: string;
}

/** Sent by the identity service when a user went past maxDevicesPerUser. */
export type DetachDeviceCommand = CommandMeta & { type: 'DetachDevice'; deviceId: string; expectedOwner: string; reason: 'max_devices' };
/** Sent by the identity service after an erasure, for each device the user had. */
export type AnonymiseDeviceCommand = CommandMeta & { type: 'AnonymiseDevice'; deviceId: string; userId: string };

/** The device commands the registration service accepts on `pushledger.registration-commands.v1` (app commands: AppAdminCommand). */
export type RegistrationCommand =
  | RegistryCommandOf<'RegisterToken'>
  | RegistryCommandOf<'Identify'>
  | RegistryCommandOf<'Logout'>
  | RegistryCommandOf<'UpdateDeviceAttributes'>
  | RegistryCommandOf<'ChangePushPermission'>
  | RegistryCommandOf<'MarkSeen'>
  | RegistryCommandOf<'RecordPushSent'>
  | RegistryCommandOf<'RecordPushBounced'>
  | RegistryCommandOf<'InvalidateToken'>
  | RegistryCommandOf<'ExpireToken'>
  | RegistryCommandOf<'UnregisterDevice'>
  | DetachDeviceCommand
  | AnonymiseDeviceCommand;

/**
 * App commands the gateway sends to the registration service (on its command topic, keyed by app id):
 * that service owns the `app-<appId>` streams. Keys are generated at the gateway; only their hashes travel.
 */
export type CreateAppCommand = CommandMeta & { type: 'CreateApp'; name: string; writeKeyHash: string; serverKeyHash: string; identitySecretHash?: StoredIdentitySecretHash; fcm: AppFcmV1; apns?: AppApnsV1 | null; webpush?: AppWebpushV1 | null; settings: AppSettingsPatch };
/** `apns`, `webpush`: new credentials for that provider (null removes them); absent leaves them as they are. */
export type ChangeAppSettingsCommand = CommandMeta & { type: 'ChangeAppSettings'; settings: AppSettingsPatch; apns?: AppApnsV1 | null; webpush?: AppWebpushV1 | null };
/** New key hashes; the previous keys keep working for `graceSeconds`. */
export type RotateAppKeysCommand = CommandMeta & { type: 'RotateAppKeys'; writeKeyHash: string; serverKeyHash: string; graceSeconds: number };
export type AppAdminCommand = CreateAppCommand | ChangeAppSettingsCommand | RotateAppKeysCommand;

/** What the delivery service accepts on `pushledger.delivery-commands.v1` (keyed by app id). */
export type ResumeSendsCommand = CommandMeta & { type: 'ResumeSends' };
/** From the campaign service when a send is cancelled: the message's pairs not yet sent are skipped as `cancelled`. */
export type CancelMessageCommand = CommandMeta & { type: 'CancelMessage'; messageId: string };
export type DeliveryCommand = ResumeSendsCommand | CancelMessageCommand | CreateWebhookCommand | DeleteWebhookCommand;
export const DELIVERY_COMMAND_TYPES = ['ResumeSends', 'CancelMessage', 'CreateWebhook', 'DeleteWebhook'] as const satisfies readonly DeliveryCommand['type'][];
/** `resumed`: a pause was lifted (false: the app's sends were not paused). */
export interface ResumeSendsResult {
  resumed: boolean;
}
/** `reason`: why delivery paused the app's sends (null: not paused). */
export interface SendsPauseResult {
  reason: string | null;
}

/** What the identity service accepts on `pushledger.identity-commands.v1`. */
export type IdentityCommand =
  | RegistryCommandOf<'UpdateTraits'>
  | RegistryCommandOf<'Unsubscribe'>
  | RegistryCommandOf<'Resubscribe'>
  | RegistryCommandOf<'ChangeTopics'>
  | RegistryCommandOf<'EraseUser'>
  | RegistryCommandOf<'LiftErasure'>;

export const REGISTRATION_COMMAND_TYPES = [
  'RegisterToken',
  'Identify',
  'Logout',
  'UpdateDeviceAttributes',
  'ChangePushPermission',
  'MarkSeen',
  'RecordPushSent',
  'RecordPushBounced',
  'InvalidateToken',
  'ExpireToken',
  'UnregisterDevice',
  'DetachDevice',
  'AnonymiseDevice',
] as const satisfies readonly RegistrationCommand['type'][];
export const APP_ADMIN_COMMAND_TYPES = ['CreateApp', 'ChangeAppSettings', 'RotateAppKeys'] as const satisfies readonly AppAdminCommand['type'][];
export const IDENTITY_COMMAND_TYPES = ['UpdateTraits', 'Unsubscribe', 'Resubscribe', 'ChangeTopics', 'EraseUser', 'LiftErasure'] as const satisfies readonly IdentityCommand['type'][];

/*
 * Queries: reads the gateway asks of a stream's owner on the owner's command topic (request/reply, the same
 * CommandClient), answered from the streams, never from the read models. A query stores nothing; a query
 * left on the topic while its owner was down is answered (to nobody) when it is back. The owner answers
 * `CommandReply<…Result>`; "no such thing" is a null in the result, not an error, so the gateway's 404
 * for a missing id and for another app's id is one and the same.
 */

/** Registration service (device, token and app streams). `device`: by id, or the device now holding the token. `asOf`: ISO time, the device as it was then. */
export type GetDeviceQuery = CommandMeta & { type: 'GetDevice'; device: DeviceRef; asOf: string | null };
/** A page of the device's facts from `fromRevision` (default 0), at most `limit` (default: every one). */
export type GetDeviceEventsQuery = CommandMeta & { type: 'GetDeviceEvents'; deviceId: string; fromRevision?: number; limit?: number };
export type GetDeviceStatsQuery = CommandMeta & { type: 'GetDeviceStats' };
/** `from`, `to`: UTC days (YYYY-MM-DD), inclusive, already checked by the gateway. */
export type GetDailyDeviceStatsQuery = CommandMeta & { type: 'GetDailyDeviceStats'; from: string; to: string };
export type GetAppQuery = CommandMeta & { type: 'GetApp' };
/** Every app, for a gateway's directory at start-up; its `appId` is ignored. */
export type ListAppsQuery = CommandMeta & { type: 'ListApps' };
export type RegistrationQuery = GetDeviceQuery | GetDeviceEventsQuery | GetDeviceStatsQuery | GetDailyDeviceStatsQuery | GetAppQuery | ListAppsQuery;
export const REGISTRATION_QUERY_TYPES = ['GetDevice', 'GetDeviceEvents', 'GetDeviceStats', 'GetDailyDeviceStats', 'GetApp', 'ListApps'] as const satisfies readonly RegistrationQuery['type'][];

/** null: no device by that id (or no device holds that token, or it did not exist yet at `asOf`). An unregistered device comes with its status. */
export interface DeviceQueryResult {
  view: DeviceView | null;
}
/** Oldest first; empty when the device has no history (from that revision). */
export interface DeviceEventsResult {
  events: HistoryEntry[];
  /** The revision the next page starts from; absent or null on the last page. */
  next?: number | null;
}
export interface DeviceCountsV1 {
  total: number;
  /** Unregistered devices are gone: counted nowhere. */
  byStatus: Record<Exclude<DeviceStatus, 'unregistered'>, number>;
  byLastStatus: Record<LastStatus, number>;
  byPlatform: Record<string, number>;
  byProvider: Record<string, number>;
  /** `unknown`: the app never reported a version. */
  byAppVersion: Record<string, number>;
}
/** `position`: the last fact counted (decimal), null for an app without devices. */
export type DeviceStatsResult = DeviceCountsV1 & { position: string | null };
/** The UTC days from `from` to `to` inclusive, as YYYY-MM-DD: the rows every per-day report answers. */
export function utcDays(from: string, to: string): string[] {
  const days: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) days.push(new Date(t).toISOString().slice(0, 10));
  return days;
}

export interface DayCountsV1 {
  date: string;
  registered: number;
  invalidated: number;
  expired: number;
}
export interface DailyDeviceStatsResult {
  days: DayCountsV1[];
}
export interface AppQueryResult {
  app: AppDirectoryEntryV1 | null;
}
export interface AppListResult {
  apps: AppDirectoryEntryV1[];
}
/** What the registration service answers to CreateApp and ChangeAppSettings (and publishes on `pushledger.apps.v1`). */
export interface AppCommandResult {
  app: AppDirectoryEntryV1;
}

/** Identity service (user streams). `asOf`: ISO time, the user as they were then. */
export type GetUserQuery = CommandMeta & { type: 'GetUser'; userId: string; asOf: string | null };
/** The devices that name the user as owner (the device streams are the truth about ownership). */
export type GetUserDevicesQuery = CommandMeta & { type: 'GetUserDevices'; userId: string };
export type ExportUserQuery = CommandMeta & { type: 'ExportUser'; userId: string };
/** The id of the user's read-model document (a pseudonym under libs/privacy): lets the gateway read it with one lookup. */
export type GetUserKeyQuery = CommandMeta & { type: 'GetUserKey'; userId: string };
export type IdentityQuery = GetUserQuery | GetUserDevicesQuery | ExportUserQuery | GetUserKeyQuery;
export const IDENTITY_QUERY_TYPES = ['GetUser', 'GetUserDevices', 'ExportUser', 'GetUserKey'] as const satisfies readonly IdentityQuery['type'][];

export interface UserQueryResult {
  view: UserView | null;
}
/** null: no such user. */
export interface UserDevicesResult {
  views: DeviceView[] | null;
}
/** Everything stored about a user, decrypted: view, user stream, and each device they have or had (other people's personal data left out). */
export interface UserExportV1 {
  user: UserView;
  userEvents: HistoryEntry[];
  devices: { id: string; linked: boolean; device: DeviceView | null; events: HistoryEntry[] }[];
}
export interface UserExportResult {
  export: UserExportV1 | null;
}
export interface UserKeyResult {
  key: string;
}

/** Campaign service (segment streams, `segment-<appId>-<segmentId>`). Rules travel as given; the owner validates them (again). */
export type CreateSegmentCommand = CommandMeta & { type: 'CreateSegment'; name: string | null; rules: unknown };
/** A new version; `name` left out keeps the current one. */
export type UpdateSegmentCommand = CommandMeta & { type: 'UpdateSegment'; segmentId: string; name?: string | null; rules: unknown };
/** `version`: null for the latest. */
export type GetSegmentQuery = CommandMeta & { type: 'GetSegment'; segmentId: string; version: number | null };
/** Oldest segment first; every one when `page` is absent. */
export type ListSegmentsQuery = CommandMeta & { type: 'ListSegments'; page?: ListPageV1 };
/** How many users match, and a sample of them, from the read models: rules inline, or a stored segment's. */
/** `estimate`: count some of the read models' partitions and scale up (a live count), instead of all of them. */
export type PreviewSegmentQuery = CommandMeta & { type: 'PreviewSegment'; sampleSize: number; estimate?: boolean } & ({ rules: unknown } | { segmentId: string });
export type SegmentRequest = CreateSegmentCommand | UpdateSegmentCommand | GetSegmentQuery | ListSegmentsQuery | PreviewSegmentQuery;
export const SEGMENT_REQUEST_TYPES = ['CreateSegment', 'UpdateSegment', 'GetSegment', 'ListSegments', 'PreviewSegment'] as const satisfies readonly SegmentRequest['type'][];

export interface SegmentV1 {
  id: string;
  appId: string;
  name: string | null;
  rules: unknown;
  version: number;
  createdAt: string;
  updatedAt: string;
}
/** null: no such segment (or version); a create never answers null. */
export interface SegmentResult {
  segment: SegmentV1 | null;
}
export interface SegmentListResult {
  segments: SegmentV1[];
  next?: CreationKey | null;
}
/** null: the named segment does not exist. */
export interface SegmentPreviewResult {
  preview: SegmentPreviewV1 | null;
}

/**
 * How an estimated count was made: users are spread over the read models' partitions by a hash of their
 * key, so the users of the partitions counted are a random sample of the app's.
 */
export interface SegmentCountEstimateV1 {
  partitionsCounted: number;
  partitions: number;
  /** The count is within ± this of the exact one with 95% confidence. */
  margin: number;
}

export interface SegmentPreviewV1 {
  count: number;
  /** Up to the asked number of user ids. */
  sample: string[];
  /** Only when the count is an estimate (some partitions counted, not all). */
  estimate?: SegmentCountEstimateV1;
}

/** Campaign service: a message as its sender recorded it (before any outcome): what was targeted and skipped. */
export type GetMessageQuery = CommandMeta & { type: 'GetMessage'; messageId: string };
/** A campaign's send-time counts over its messages (outcome counters are the delivery service's). */
export type GetCampaignAudienceQuery = CommandMeta & { type: 'GetCampaignAudience'; campaignId: string };
export type CampaignQuery = GetMessageQuery | GetCampaignAudienceQuery;
export const CAMPAIGN_QUERY_TYPES = ['GetMessage', 'GetCampaignAudience'] as const satisfies readonly CampaignQuery['type'][];
export interface CampaignAudienceResult {
  messages: number;
  targeted: number;
  skipped: Record<string, number>;
}
export interface MessageRecordV1 {
  messageId: string;
  campaignId: string | null;
  targeted: number;
  skipped: Record<string, number>;
  createdAt: string;
}
/** null: no such message (or another app's). */
export interface MessageQueryResult {
  message: MessageRecordV1 | null;
}

/*
 * Delivery service (its PostgreSQL ledger): outcomes per (message, device) and the counters kept with them
 * in the same transaction, so these reads cost the same at 10 outcomes and at 1,000,000.
 */
/** A page of a message's outcomes in device id order, strictly after the device id `after` (null: from the start). */
export type GetMessageOutcomesQuery = CommandMeta & { type: 'GetMessageOutcomes'; messageId: string; limit: number; after: string | null };
export type GetMessageCountersQuery = CommandMeta & { type: 'GetMessageCounters'; messageId: string };
export type GetCampaignCountersQuery = CommandMeta & { type: 'GetCampaignCounters'; campaignId: string };
/** Whether the ledger holds an outcome for the pair: receipts are accepted only for pushes that exist. */
export type GetOutcomeQuery = CommandMeta & { type: 'GetOutcome'; messageId: string; deviceId: string };
export type GetSendsPauseQuery = CommandMeta & { type: 'GetSendsPause' };
/** The app's outcomes and receipts per UTC day, `from` to `to` inclusive (YYYY-MM-DD). */
export type GetDailyPushStatsQuery = CommandMeta & { type: 'GetDailyPushStats'; from: string; to: string };
export type DeliveryQuery = GetMessageOutcomesQuery | GetMessageCountersQuery | GetCampaignCountersQuery | GetOutcomeQuery | ListWebhooksQuery | GetSendsPauseQuery | GetDailyPushStatsQuery;
export const DELIVERY_QUERY_TYPES = ['GetMessageOutcomes', 'GetMessageCounters', 'GetCampaignCounters', 'GetOutcome', 'ListWebhooks', 'GetSendsPause', 'GetDailyPushStats'] as const satisfies readonly DeliveryQuery['type'][];

/** One UTC day of an app's pushes: outcomes by the day they were recorded, receipts by the day they say. */
export interface PushDayCountsV1 {
  date: string;
  sent: number;
  bounced: number;
  invalidated: number;
  failed: number;
  skipped: number;
  delivered: number;
  opened: number;
}
export interface DailyPushStatsResult {
  days: PushDayCountsV1[];
}

export interface OutcomeCountersV1 {
  sent: number;
  bounced: number;
  invalidated: number;
  failed: number;
  skipped: number;
  /** Skipped outcomes recorded per device, by reason. */
  skippedByReason: Record<string, number>;
  delivered: number;
  opened: number;
}
export interface MessageOutcomeV1 {
  deviceId: string;
  outcome: DeliveryOutcomeKind;
  reason: string | null;
  attempts: number;
  at: string;
  deliveredAt: string | null;
  openedAt: string | null;
}
/** `next`: the device id to pass as `after` for the next page; null on the last page. */
export interface MessageOutcomesPageResult {
  outcomes: MessageOutcomeV1[];
  next: string | null;
}
/** null: the ledger holds nothing for the message (it may still exist at its sender, with no outcome yet). */
export interface MessageCountersResult {
  counters: (OutcomeCountersV1 & { campaignId: string | null }) | null;
}
/** Zeros for a campaign with no outcome yet. */
export interface CampaignCountersResult {
  counters: OutcomeCountersV1;
}
export interface OutcomeQueryResult {
  outcome: MessageOutcomeV1 | null;
}
