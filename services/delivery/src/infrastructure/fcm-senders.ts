import { deleteApp } from 'firebase-admin/app';
import type { Messaging, TokenMessage } from 'firebase-admin/messaging';
import type { PushledgerConfig } from '@pushledger/config';
import { isSealedCredential, type AppRecord, type DeliveryTargetV1, type PushContentV1 } from '@pushledger/contracts';
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

/** The FCM message for one target; the message id tags it so a rare duplicate collapses on the phone. */
export function fcmMessage(messageId: string, target: DeliveryTargetV1, fallback: PushContentV1): TokenMessage {
  const c = target.content ?? fallback;
  const tag = messageId.slice(0, 64);
  return {
    token: target.token,
    notification: { title: c.title, body: c.body, ...(c.imageUrl ? { imageUrl: c.imageUrl } : {}) },
    data: { ...c.data, pushledgerMessageId: messageId },
    android: { collapseKey: tag, notification: { tag } },
    apns: { headers: { 'apns-collapse-id': tag } },
  };
}
