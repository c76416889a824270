import type { DevicePolicy } from './apps';
import type { CampaignSendStatus } from './campaign-send';
import type { PushContentV1, PushExtrasV1 } from './delivery';

export type PushTarget = { userId: string } | { deviceId: string } | { token: string };

/** `POST /v1/push` as it travels to the campaign service. */
export type SendPushCommand = {
  type: 'SendPush';
  commandId: string;
  appId: string;
  issuedAt: string;
  messageId: string;
  to: PushTarget;
  content: PushContentV1;
  transactional: boolean;
  /** null: the app's default. */
  devicePolicy: DevicePolicy | null;
  /** Users who turned this subscription topic off are skipped (`topic_unsubscribed`), transactional or not. Absent: none. */
  topic?: string | null;
};

export interface SendPushResultV1 {
  messageId: string;
  targeted: number;
  skipped: Record<string, number>;
}

/**
 * Answer to SendCampaign. A broadcast answers before its audience is streamed (`sending`, or `scheduled`
 * with `scheduledFor`); its counts come later in the campaign's `sends`. A transactional send answers `sent`
 * (handed to delivery) with its counts.
 */
export interface CampaignSendResultV1 {
  messageId: string;
  status: CampaignSendStatus;
  targeted: number | null;
  skipped: Record<string, number> | null;
  scheduledFor?: string;
}

/** `pushledger.receipts.v1`: the app reports that a push was delivered or opened. */
export interface ReceiptV1 {
  appId: string;
  messageId: string;
  deviceId: string;
  kind: 'delivered' | 'opened';
  at: string;
}

export type CampaignKind = 'broadcast' | 'triggered' | 'transactional';

export interface CampaignContentV1 extends PushExtrasV1 {
  title: string;
  body: string;
  imageUrl: string | null;
  data: Record<string, string>;
  /** Per-locale overrides picked by the device locale. */
  locales: Record<string, { title?: string; body?: string }>;
}

export interface CampaignTriggerV1 {
  /** A `track` event name on pushledger.ingest.v1. */
  event: string;
  /** Property equality filter: every listed property must equal the value. */
  where: Record<string, string | number | boolean>;
  /** Who gets it: the event's user, or the device/token named in an event property (Customer.io's custom device token). */
  to: { kind: 'user' } | { kind: 'token'; property: string } | { kind: 'device'; property: string };
}

export interface CampaignDefinitionV1 {
  id: string;
  appId: string;
  name: string;
  kind: CampaignKind;
  /** Broadcast audience: a stored segment, or rules inline; null means every user of the app. */
  audience: { segmentId: string } | { rules: unknown } | null;
  trigger: CampaignTriggerV1 | null;
  content: CampaignContentV1;
  transactional: boolean;
  devicePolicy: DevicePolicy | null;
  /** See SendPushCommand.topic. */
  topic?: string | null;
  /** Broadcast at a time; with localTime, `at`'s wall-clock time in each user's time zone. */
  schedule: { at: string; localTime: boolean } | null;
  createdAt: string;
}

export type CreateCampaignCommand = { type: 'CreateCampaign'; commandId: string; appId: string; issuedAt: string; campaign: CampaignDefinitionV1 };
/** Broadcast now (or per schedule); for a transactional campaign, to one target with event-like data. */
export type SendCampaignCommand = {
  type: 'SendCampaign';
  commandId: string;
  appId: string;
  issuedAt: string;
  campaignId: string;
  messageId: string;
  to: PushTarget | null;
  properties: Record<string, unknown>;
};
/** Stops a broadcast send: waves not started never start; a running one hands nothing more to delivery. */
/** `deliveryFinished`: the message's pairs delivery's ledger had finished when the cancel was asked (see the campaign send decider). */
export type CancelCampaignSendCommand = { type: 'CancelCampaignSend'; commandId: string; appId: string; issuedAt: string; campaignId: string; messageId: string; deliveryFinished?: number };
export type CampaignCommand = SendPushCommand | CreateCampaignCommand | SendCampaignCommand | CancelCampaignSendCommand;
