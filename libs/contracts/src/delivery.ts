import type { Provider } from './events/common';

/** What a push says; rendered per recipient by the campaign service before delivery. */
export interface PushContentV1 {
  title: string;
  body: string;
  imageUrl: string | null;
  data: Record<string, string>;
}

export interface DeliveryTargetV1 {
  deviceId: string;
  token: string;
  /** Which provider the token belongs to; it is sent through that one or not at all. Absent on requests made before providers were routed: fcm. */
  provider: Provider;
  userId: string | null;
  /** Per-recipient content (templates, locale); the request's content otherwise. */
  content: PushContentV1 | null;
}

/** `pushledger.delivery-requests.v1`: at most 500 targets, keyed by `${messageId}:${chunk}`. */
export interface DeliveryRequestV1 {
  requestId: string;
  messageId: string;
  appId: string;
  campaignId: string | null;
  transactional: boolean;
  content: PushContentV1;
  targets: DeliveryTargetV1[];
  /** Devices the sender left out, each recorded as a `skipped` outcome (never over a real one). */
  skipped?: { deviceId: string; reason: string }[];
  createdAt: string;
}

export type DeliveryOutcomeKind = 'sent' | 'bounced' | 'invalidated' | 'failed' | 'skipped';

/** `pushledger.delivery-outcomes.v1`: one per (message, device), once the delivery ledger holds it; no user id (personal data). */
export interface DeliveryOutcomeV1 {
  messageId: string;
  appId: string;
  campaignId: string | null;
  deviceId: string;
  outcome: DeliveryOutcomeKind;
  reason: string | null;
  attempts: number;
  at: string;
}

/** `pushledger.delivery-outcomes.v1` also carries app-level alerts, keyed by app id. */
export interface AppSendsPausedV1 {
  type: 'AppSendsPaused';
  appId: string;
  reason: string;
  failedShare: number;
  at: string;
}

export const MAX_TARGETS_PER_REQUEST = 500;
