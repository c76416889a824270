import { createHmac } from 'crypto';
import type { SealedCredentialV1 } from './apps';
import type { CreationKey, ListPageV1 } from './list-page';
import { DeviceEventTypes } from './events/device-events';
import { UserEventTypes } from './events/user-events';

/** What a webhook can subscribe to: the device and user lifecycle facts, and one outcome per (message, device). */
export const WEBHOOK_EVENT_TYPES: readonly string[] = [...DeviceEventTypes, ...UserEventTypes, 'PushOutcome'];
export const ALL_WEBHOOK_EVENTS = '*';

export interface WebhookV1 {
  id: string;
  url: string;
  /** Event types, or `['*']` for every one. */
  events: string[];
  createdAt: string;
  /** Set when deliveries kept failing for the whole retry period; nothing more is sent to it. */
  disabledAt: string | null;
  disabledReason: string | null;
}

/** The body of each POST to a webhook. Tokens in `data` are masked. */
export interface WebhookDeliveryBodyV1 {
  id: string;
  type: string;
  appId: string;
  occurredAt: string;
  data: unknown;
}

type Meta = { commandId: string; appId: string; issuedAt: string };
/** The gateway generates the signing secret, shows it once, and hands delivery only its sealed form. */
export type CreateWebhookCommand = Meta & { type: 'CreateWebhook'; webhookId: string; url: string; events: string[]; secret: SealedCredentialV1 };
export type DeleteWebhookCommand = Meta & { type: 'DeleteWebhook'; webhookId: string };
/** Oldest webhook first; every one when `page` is absent. */
export type ListWebhooksQuery = Meta & { type: 'ListWebhooks'; page?: ListPageV1 };
export interface WebhookListResult {
  webhooks: WebhookV1[];
  next?: CreationKey | null;
}

/** `Pushledger-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256 under the secret of "<t>.<raw body>">`. */
export function webhookSignature(secret: string, unixSeconds: number, rawBody: string): string {
  return `t=${unixSeconds},v1=${createHmac('sha256', secret).update(`${unixSeconds}.${rawBody}`).digest('hex')}`;
}
