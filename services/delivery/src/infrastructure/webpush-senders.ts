import { createHash } from 'crypto';
import { Agent } from 'https';
import { rootCertificates } from 'tls';
import { sendNotification, type RequestOptions } from 'web-push';
import type { PushledgerConfig, VapidKeys } from '@pushledger/config';
import { parseWebPushSubscription, WEBPUSH_PAYLOAD_LIMIT_BYTES, webPushPayload, type AppRecord, type DeliveryTargetV1, type PushContentV1 } from '@pushledger/contracts';
import { openCredential } from '@pushledger/platform';
import { classifyWebPushError, type WebPushFailure } from '@pushledger/webpush';
import type { ProviderSender, SendAnswer } from './push-senders';

/** Concurrent requests per call: each subscription is its own HTTPS request, often to different push services. */
const WEBPUSH_BATCH = 50;
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Web Push (RFC 8030) through the `web-push` library: payload encrypted aes128gcm to each subscription's keys,
 * a VAPID JWT signed with the app's key. The only place a sealed VAPID private key is opened. Apps without
 * VAPID keys sign with the bundled simulator's stand-in keys when `npm start` runs one, else they have no
 * web push sender (no_credentials). Retries stay the delivery handler's: the library makes one request per call.
 */
export class WebpushSenders {
  private readonly agent: Agent;
  private readonly byApp = new Map<string, { vapid: VapidKeys; key: string }>();

  constructor(private readonly config: PushledgerConfig) {
    const extra = [config.webpush.ca, config.webpush.simulator?.ca].filter((ca): ca is string => ca !== undefined);
    // Subscriptions name any push service: the system's CAs always, a simulator's beside them.
    this.agent = new Agent({ keepAlive: true, ...(extra.length ? { ca: [...rootCertificates, ...extra] } : {}) });
  }

  sender(app: AppRecord): ProviderSender | null {
    const vapid = this.vapid(app);
    if (!vapid) return null;
    const agent = this.agent;
    return {
      batchSize: WEBPUSH_BATCH,
      send: (messageId, targets, fallback) => Promise.all(targets.map((t) => sendOne(messageId, t, t.content ?? fallback, vapid, agent))),
    };
  }

  private vapid(app: AppRecord): VapidKeys | null {
    const own = app.webpush;
    const standIn = this.config.webpush.simulator?.vapid;
    if (!own) return standIn ? { subject: standIn.subject, publicKey: standIn.publicKey, privateKey: standIn.privateKey } : null;
    const key = own.privateKey.$sealed;
    const known = this.byApp.get(app.id);
    if (known && known.key === key && known.vapid.publicKey === own.publicKey && known.vapid.subject === own.subject) return known.vapid;
    const vapid = { subject: own.subject, publicKey: own.publicKey, privateKey: String(openCredential(own.privateKey, 'webpush.privateKey', app.id, this.config.secretKey)) };
    this.byApp.set(app.id, { vapid, key });
    return vapid;
  }

  async close(): Promise<void> {
    this.byApp.clear();
    this.agent.destroy();
  }
}

async function sendOne(messageId: string, target: DeliveryTargetV1, content: PushContentV1, vapid: VapidKeys, agent: Agent): Promise<SendAnswer> {
  const parsed = parseWebPushSubscription(target.token);
  // Registration checks the subscription; one stored before that check cannot be sent to, and never will be.
  if (!parsed.ok) return { ok: false, error: { action: 'invalidate_token', code: 'bad_subscription', reason: 'not a valid push subscription' } };
  const payload = webPushPayload(messageId, content);
  // A send whose target was chosen before its content was rendered (a broadcast) is measured only here.
  if (Buffer.byteLength(payload, 'utf8') > WEBPUSH_PAYLOAD_LIMIT_BYTES) {
    return { ok: false, error: { action: 'fail_message', code: 'payload_too_large', reason: `payload over ${WEBPUSH_PAYLOAD_LIMIT_BYTES} bytes before encryption` } };
  }
  try {
    await sendNotification(parsed.subscription, payload, { ...webPushOptions(content), vapidDetails: vapid, contentEncoding: 'aes128gcm', agent, timeout: REQUEST_TIMEOUT_MS });
    return { ok: true };
  } catch (err) {
    return { ok: false, error: classifyWebPushError(err as WebPushFailure) };
  }
}

/**
 * Message options as Web Push headers: `ttlSeconds` → TTL (absent: the library's 4 weeks), `priority` → Urgency
 * (absent, data-only included: normal, so a silent sync does not wake a device in power saving), `collapseKey`
 * → Topic, which takes at most 32 base64url characters: a longer or other key goes as its hash.
 */
export function webPushOptions(c: PushContentV1): Pick<RequestOptions, 'TTL' | 'urgency' | 'topic'> {
  const o = c.options ?? {};
  return {
    ...(o.ttlSeconds !== undefined ? { TTL: o.ttlSeconds } : {}),
    urgency: o.priority ?? 'normal',
    ...(o.collapseKey !== undefined ? { topic: webPushTopic(o.collapseKey) } : {}),
  };
}

export function webPushTopic(collapseKey: string): string {
  return /^[A-Za-z0-9_-]{1,32}$/.test(collapseKey) ? collapseKey : createHash('sha256').update(collapseKey).digest('base64url').slice(0, 32);
}
