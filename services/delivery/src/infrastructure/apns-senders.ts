import type { PushledgerConfig } from '@pushledger/config';
import { isSealedCredential, PUSHLEDGER_DATA_KEYS, type AppRecord, type DeliveryTargetV1, type PushContentV1 } from '@pushledger/contracts';
import { ApnsClient, classifyApnsError, STAND_IN_KEY_ID, STAND_IN_TEAM_ID, type ApnsMessage } from '@pushledger/apns';
import { openCredential } from '@pushledger/platform';
import type { ProviderSender, SendAnswer } from './push-senders';

/** Concurrent requests per call: HTTP/2 streams on the app's one connection. */
const APNS_BATCH = 100;

/**
 * One ApnsClient (one HTTP/2 connection, @parse/node-apn) per app and credentials. The only place a sealed
 * .p8 is opened. APNS_ENDPOINT redirects apps with credentials; apps without any send to the bundled
 * simulator with its own key when `npm start` runs one, else they have no APNs sender (no_credentials).
 */
export class ApnsSenders {
  private readonly byApp = new Map<string, { client: ApnsClient; key: string }>();

  constructor(private readonly config: PushledgerConfig) {}

  sender(app: AppRecord): ProviderSender | null {
    const client = this.client(app);
    if (!client) return null;
    const topic = app.apns?.bundleId ?? 'dev.pushledger.simulator';
    return {
      batchSize: APNS_BATCH,
      async send(messageId, targets, fallback) {
        // One request per distinct content; most sends share the message's.
        const answers = new Map<DeliveryTargetV1, SendAnswer>();
        const groups = new Map<PushContentV1, DeliveryTargetV1[]>();
        for (const t of targets) {
          const c = t.content ?? fallback;
          groups.set(c, [...(groups.get(c) ?? []), t]);
        }
        for (const [content, group] of groups) {
          const results = await client.send(apnsMessage(messageId, topic, content), group.map((t) => t.token));
          results.forEach((r, i) => answers.set(group[i], r.ok ? { ok: true } : { ok: false, error: classifyApnsError(r.failure) }));
        }
        return targets.map((t) => answers.get(t)!);
      },
    };
  }

  private client(app: AppRecord): ApnsClient | null {
    const apns = app.apns;
    const sim = this.config.apns.simulator;
    if (!apns && !sim) return null;
    const key = JSON.stringify(apns ? [apns.teamId, apns.keyId, apns.production, isSealedCredential(apns.privateKey) ? apns.privateKey.$sealed : 'clear'] : ['simulator']);
    const known = this.byApp.get(app.id);
    if (known && known.key === key) return known.client;
    if (known) void known.client.close().catch(() => undefined);
    const client = apns
      ? new ApnsClient({ teamId: apns.teamId, keyId: apns.keyId, production: apns.production, privateKey: this.open(app), ...(this.config.apns.endpoint ? { endpoint: this.config.apns.endpoint } : {}) })
      : new ApnsClient({ teamId: STAND_IN_TEAM_ID, keyId: STAND_IN_KEY_ID, production: false, privateKey: sim!.key, endpoint: { url: sim!.url, ca: sim!.ca } });
    this.byApp.set(app.id, { client, key });
    return client;
  }

  private open(app: AppRecord): string {
    const sealed = app.apns!.privateKey;
    return String(openCredential(sealed, 'apns.privateKey', app.id, this.config.secretKey));
  }

  async close(): Promise<void> {
    await Promise.all([...this.byApp.values()].map((c) => c.client.close().catch(() => undefined)));
  }
}

/**
 * The APNs request for one content, with the message options in Apple's fields (the same mapping as FCM's
 * `apns` block): a data-only push is a background push at priority 5 with content-available and no alert.
 */
export function apnsMessage(messageId: string, topic: string, c: PushContentV1, now = new Date()): ApnsMessage {
  const o = c.options ?? {};
  const background = c.dataOnly === true;
  const ttl = o.ttlSeconds;
  return {
    topic,
    collapseId: (o.collapseKey ?? messageId).slice(0, 64),
    pushType: background ? 'background' : 'alert',
    priority: background || o.priority === 'normal' ? 5 : 10,
    ...(ttl !== undefined ? { expiration: ttl === 0 ? 0 : Math.floor(now.getTime() / 1000) + ttl } : {}),
    aps: {
      ...(background ? {} : { alert: { title: c.title, body: c.body } }),
      ...(!background && c.sound !== undefined ? { sound: c.sound } : {}),
      ...(!background && c.badge !== undefined ? { badge: c.badge } : {}),
      ...(background || o.contentAvailable ? { 'content-available': 1 } : {}),
      ...(!background && (o.mutableContent || c.imageUrl) ? { 'mutable-content': 1 } : {}),
    },
    custom: { ...c.data, ...(c.imageUrl ? { imageUrl: c.imageUrl } : {}), [PUSHLEDGER_DATA_KEYS.messageId]: messageId, ...(c.link !== undefined ? { [PUSHLEDGER_DATA_KEYS.link]: c.link } : {}) },
  };
}
