import type { LastStatus, Provider } from './events/common';
export const PUSH_PRIORITIES = ['high', 'normal'] as const;
export type PushPriority = (typeof PUSH_PRIORITIES)[number];

/** How a push is delivered; each provider maps these to its own fields (FCM: services/delivery fcm-senders.ts). */
export interface PushOptionsV1 {
  ttlSeconds?: number;
  priority?: PushPriority;
  /** Absent: the message id, so a rare duplicate send collapses on the device. */
  collapseKey?: string;
  androidChannelId?: string;
  contentAvailable?: boolean;
  mutableContent?: boolean;
}

/**
 * What a push carries besides its text, the same for every recipient. Optional throughout: requests and
 * campaigns written before these existed read as a plain notification with the defaults.
 */
export interface PushExtrasV1 {
  /** A data-only (silent) push: no notification block; title and body are empty. */
  dataOnly?: boolean;
  sound?: string;
  badge?: number;
  /** Deep link opened on tap (an absolute URL; web pushes only use https ones). */
  link?: string;
  options?: PushOptionsV1;
}

/** What a push says; rendered per recipient by the campaign service before delivery. */
export interface PushContentV1 extends PushExtrasV1 {
  title: string;
  body: string;
  imageUrl: string | null;
  data: Record<string, string>;
}

/** The extras of a content, and only those (so a rendered copy keeps them). */
export function pushExtrasOf(c: PushExtrasV1): PushExtrasV1 {
  const out: PushExtrasV1 = {};
  if (c.dataOnly) out.dataOnly = true;
  if (c.sound !== undefined) out.sound = c.sound;
  if (c.badge !== undefined) out.badge = c.badge;
  if (c.link !== undefined) out.link = c.link;
  if (c.options && Object.keys(c.options).length) out.options = c.options;
  return out;
}

/** FCM's limit on a message's payload (notification and data), in bytes. */
export const FCM_PAYLOAD_LIMIT_BYTES = 4096;
/**
 * The longest Web Push payload before encryption: push services take 4096 bytes of aes128gcm body (RFC 8030),
 * of which the header (86), the tag (16) and the padding delimiter (1) leave 3993 (RFC 8291 §4).
 */
export const WEBPUSH_PAYLOAD_LIMIT_BYTES = 3993;
/** The data keys Pushledger adds to every message (see services/delivery fcmMessage). */
export const PUSHLEDGER_DATA_KEYS = { messageId: 'pushledgerMessageId', link: 'pushledgerLink' } as const;

/**
 * The payload size FCM counts for this content: the notification's texts and the data map, as sent,
 * including the keys Pushledger adds (a message id is 36 characters).
 */
export function pushPayloadBytes(c: PushContentV1): number {
  const data: Record<string, string> = { ...c.data, [PUSHLEDGER_DATA_KEYS.messageId]: '0'.repeat(36) };
  if (c.link !== undefined) data[PUSHLEDGER_DATA_KEYS.link] = c.link;
  const notification = c.dataOnly ? undefined : { title: c.title, body: c.body, ...(c.imageUrl ? { image: c.imageUrl } : {}), ...(c.sound !== undefined ? { sound: c.sound } : {}) };
  return Buffer.byteLength(JSON.stringify({ notification, data }), 'utf8');
}

/**
 * What a service worker's `push` event reads (`event.data.json()`): the notification to show (absent for a
 * data-only push), the data map with the keys Pushledger adds (as FCM's), and `link` when it is https (what
 * FCM's `webpush.fcmOptions.link` carries: a window the worker can open on click).
 */
export function webPushPayload(messageId: string, c: PushContentV1): string {
  const notification = c.dataOnly === true ? undefined : { title: c.title, body: c.body, ...(c.imageUrl ? { image: c.imageUrl } : {}) };
  const data = { ...c.data, [PUSHLEDGER_DATA_KEYS.messageId]: messageId, ...(c.link !== undefined ? { [PUSHLEDGER_DATA_KEYS.link]: c.link } : {}) };
  return JSON.stringify({ ...(notification ? { notification } : {}), data, ...(c.link?.startsWith('https://') ? { link: c.link } : {}) });
}

export function webPushPayloadFits(messageId: string, c: PushContentV1): boolean {
  return Buffer.byteLength(webPushPayload(messageId, c), 'utf8') <= WEBPUSH_PAYLOAD_LIMIT_BYTES;
}

/** A token as the read models keep it: sealed with its device's key, which erasure destroys (libs/privacy). */
export interface SealedTokenV1 {
  $enc: string;
}

/** What a push needs of its recipient; on the topic only sealed with the device's key (`SealedDeliveryTargetV1`). */
export interface DeliveryRecipientV1 {
  token: string;
  userId: string | null;
  /** Per-recipient content (templates, locale); the request's content otherwise. */
  content: PushContentV1 | null;
}

export interface DeliveryTargetRouting {
  deviceId: string;
  /** Which provider the token belongs to; it is sent through that one or not at all. Absent on requests made before providers were routed: fcm. */
  provider: Provider;
  /** The device's last status as the sender read it: a send to a device already `sent` is no news to its stream. Absent: unknown. */
  lastStatus?: LastStatus;
}

/** A target as the sender sends to it: once opened, or as senders before sealing wrote it. */
export interface DeliveryTargetV1 extends DeliveryTargetRouting, DeliveryRecipientV1 {}

/** A target as the campaign service builds it: the token still sealed where targeting read it from the read models (delivery opens it with the recipient). */
export type OutgoingTargetV1 = Omit<DeliveryTargetV1, 'token'> & { token: string | SealedTokenV1 };

/** A target on the topic: its `DeliveryRecipientV1` sealed with the device's key (libs/privacy `RecipientSeals`), which erasure destroys. */
export interface SealedDeliveryTargetV1 extends DeliveryTargetRouting {
  recipient: { $enc: string };
}

/** The fields that stay readable on the topic, taken from a target however it is held. */
export function routingOf(t: DeliveryTargetRouting): DeliveryTargetRouting {
  return { deviceId: t.deviceId, provider: t.provider, ...(t.lastStatus !== undefined ? { lastStatus: t.lastStatus } : {}) };
}

export function isSealedTarget(t: SealedDeliveryTargetV1 | DeliveryTargetV1): t is SealedDeliveryTargetV1 {
  return typeof (t as SealedDeliveryTargetV1).recipient?.$enc === 'string';
}

/** `pushledger.delivery-requests.v1`: at most 500 targets, keyed by `${messageId}:${chunk}`. */
export interface DeliveryRequestV1<Target = SealedDeliveryTargetV1 | DeliveryTargetV1> {
  requestId: string;
  messageId: string;
  appId: string;
  campaignId: string | null;
  transactional: boolean;
  content: PushContentV1;
  targets: Target[];
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
