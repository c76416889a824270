import { deleteApp } from 'firebase-admin/app';
import type { Messaging, TokenMessage } from 'firebase-admin/messaging';
import type { PushledgerConfig } from '@pushledger/config';
import { isSealedCredential, PUSHLEDGER_DATA_KEYS, type AppRecord, type DeliveryTargetV1, type PushContentV1 } from '@pushledger/contracts';
import { classifyFcmError, createMessaging } from '@pushledger/fcm';
import { openCredential } from '@pushledger/platform';
import type { ProviderSender, SendAnswer } from './push-senders';

/**
 * One firebase-admin Messaging per app (its own credentials), pointed at FCM_ENDPOINT when set. The only
 * place a sealed service account is opened; the opened key lives in its firebase-admin app alone.
 */
export class FcmSenders {
  private readonly byApp = new Map<string, { messaging: Messaging; key: string }>();

  constructor(private readonly config: PushledgerConfig) {}

  /** null when the app has no credentials and no endpoint is configured: nothing can be sent. */
  for(app: AppRecord): Messaging | null {
    const sealed = app.fcm.serviceAccount;
    const key = JSON.stringify([app.fcm.projectId, sealed && isSealedCredential(sealed) ? sealed.$sealed : 'none']);
    const known = this.byApp.get(app.id);
    if (known && known.key === key) return known.messaging;
    // FCM_ENDPOINT redirects everything; otherwise apps with credentials talk to Google and apps without to the bundled simulator.
    const { endpoint, caFile, simulator } = this.config.fcm;
    const target = endpoint && caFile ? { endpoint, caFile } : !app.fcm.serviceAccount && simulator ? { endpoint: simulator.url, caFile: simulator.caFile } : undefined;
    if (!app.fcm.serviceAccount && !target) return null;
    const messaging = createMessaging({
      appName: `pushledger-${app.id}`,
      projectId: app.fcm.projectId,
      serviceAccount: sealed ? (this.open(app) as never) : null,
      ...(target ?? {}),
    });
    this.byApp.set(app.id, { messaging, key });
    return messaging;
  }

  /** A stream written before credentials were sealed may still hold one in the clear: used as it is. */
  private open(app: AppRecord): unknown {
    const sealed = app.fcm.serviceAccount;
    return isSealedCredential(sealed) ? openCredential(sealed, 'fcm.serviceAccount', app.id, this.config.secretKey) : sealed;
  }

  async close(): Promise<void> {
    await Promise.all([...this.byApp.values()].map((m) => deleteApp(m.messaging.app).catch(() => undefined)));
  }

  /** The app's FCM sends as a ProviderSender (sendEach, errors classified by classifyFcmError). */
  sender(app: AppRecord): ProviderSender | null {
    const messaging = this.for(app);
    if (!messaging) return null;
    return {
      batchSize: 500,
      async send(messageId, targets, fallback) {
        const batch = await messaging.sendEach(targets.map((t) => fcmMessage(messageId, t, fallback)));
        return batch.responses.map((r): SendAnswer => (r.success ? { ok: true } : { ok: false, error: classifyFcmError(r.error) }));
      },
    };
  }
}

/**
 * The FCM message for one target. The collapse key defaults to the message id, so a rare duplicate collapses on
 * the device. Options map to each platform's block: Android (ttl, priority, collapse key, channel, sound,
 * badge count), APNs (expiration, priority, collapse id, push type, aps sound/badge/content-available/
 * mutable-content) and Web Push (TTL, Urgency, link). The link travels in the data map for apps to open.
 */
export function fcmMessage(messageId: string, target: DeliveryTargetV1, fallback: PushContentV1, now = new Date()): TokenMessage {
  const c = target.content ?? fallback;
  const o = c.options ?? {};
  const collapse = (o.collapseKey ?? messageId).slice(0, 64);
  const dataOnly = c.dataOnly === true;
  // A data-only push reaches iOS as a background push, which Apple takes at priority 5 only.
  const background = dataOnly;
  const apnsPriority = background || o.priority === 'normal' ? '5' : o.priority === 'high' ? '10' : undefined;
  const ttl = o.ttlSeconds;
  const apnsHeaders: Record<string, string> = {
    'apns-collapse-id': collapse,
    'apns-push-type': background ? 'background' : 'alert',
    ...(apnsPriority ? { 'apns-priority': apnsPriority } : {}),
    // 0: one delivery attempt, not stored (as Apple defines it).
    ...(ttl !== undefined ? { 'apns-expiration': String(ttl === 0 ? 0 : Math.floor(now.getTime() / 1000) + ttl) } : {}),
  };
  const aps = {
    ...(!dataOnly && c.sound !== undefined ? { sound: c.sound } : {}),
    ...(!dataOnly && c.badge !== undefined ? { badge: c.badge } : {}),
    ...(background || o.contentAvailable ? { contentAvailable: true } : {}),
    ...(!dataOnly && o.mutableContent ? { mutableContent: true } : {}),
  };
  const webHeaders: Record<string, string> = {
    ...(ttl !== undefined ? { TTL: String(ttl) } : {}),
    ...(o.priority ? { Urgency: o.priority } : {}),
  };
  return {
    token: target.token,
    ...(dataOnly ? {} : { notification: { title: c.title, body: c.body, ...(c.imageUrl ? { imageUrl: c.imageUrl } : {}) } }),
    data: { ...c.data, [PUSHLEDGER_DATA_KEYS.messageId]: messageId, ...(c.link !== undefined ? { [PUSHLEDGER_DATA_KEYS.link]: c.link } : {}) },
    android: {
      collapseKey: collapse,
      ...(o.priority ? { priority: o.priority } : {}),
      ...(ttl !== undefined ? { ttl: ttl * 1000 } : {}),
      ...(dataOnly
        ? {}
        : {
            notification: {
              tag: collapse,
              ...(o.androidChannelId !== undefined ? { channelId: o.androidChannelId } : {}),
              ...(c.sound !== undefined ? { sound: c.sound } : {}),
              ...(c.badge !== undefined ? { notificationCount: c.badge } : {}),
            },
          }),
    },
    apns: { headers: apnsHeaders, payload: { aps } },
    ...(Object.keys(webHeaders).length || c.link?.startsWith('https://') ? { webpush: { ...(Object.keys(webHeaders).length ? { headers: webHeaders } : {}), ...(c.link?.startsWith('https://') ? { fcmOptions: { link: c.link } } : {}) } } : {}),
  };
}
