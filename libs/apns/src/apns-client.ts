import { Notification, Provider } from '@parse/node-apn';
import type { ApnsFailure } from './apns-error-classifier';

export { classifyApnsError } from './apns-error-classifier';
export type { ApnsErrorAction, ApnsErrorClassification, ApnsFailure } from './apns-error-classifier';

export interface ApnsClientOptions {
  teamId: string;
  keyId: string;
  /** The .p8 PEM. Passed on as a Buffer: node-apn reads any string without a PEM header as a file path. */
  privateKey: string;
  /** api.push.apple.com; else api.sandbox.push.apple.com. */
  production: boolean;
  /** `https://host:port` to send to instead of Apple (a simulator), trusting `ca` (PEM) when given. */
  endpoint?: { url: string; ca?: string };
}

/** What an APNs request carries besides the token: the app's bundle id as `apns-topic`, headers, the JSON body. */
export interface ApnsMessage {
  topic: string;
  collapseId?: string;
  pushType?: 'alert' | 'background';
  priority?: 5 | 10;
  /** `apns-expiration`: unix seconds after which Apple drops it; 0: one attempt, not stored. */
  expiration?: number;
  aps: Record<string, unknown>;
  /** Custom keys beside `aps`. */
  custom: Record<string, unknown>;
}

export type ApnsSendResult = { token: string; ok: true } | { token: string; ok: false; failure: ApnsFailure };

/**
 * One HTTP/2 connection per app through @parse/node-apn (ES256 provider token made and renewed by the
 * library). node-apn's own retries are off (`connectionRetryLimit: 0`): the delivery handler retries with
 * its back-off and ledger, so every attempt is counted once.
 */
export class ApnsClient {
  private readonly provider: Provider;

  constructor(options: ApnsClientOptions) {
    const target = options.endpoint ? new URL(options.endpoint.url) : undefined;
    if (target && target.protocol !== 'https:') throw new Error(`APNs endpoint must be https: ${options.endpoint!.url}`);
    this.provider = new Provider({
      token: { key: Buffer.from(options.privateKey), keyId: options.keyId, teamId: options.teamId },
      production: options.production,
      // node-apn hands its whole config to http2.connect, whose `port` option wins over the URL's.
      ...(target ? { address: target.hostname.replace(/^\[(.*)\]$/, '$1'), port: target.port === '' ? 443 : Number(target.port) } : {}),
      ...(options.endpoint?.ca ? { ca: [Buffer.from(options.endpoint.ca)] } : {}),
      connectionRetryLimit: 0,
      requestTimeout: 10_000,
    });
  }

  async send(message: ApnsMessage, tokens: string[]): Promise<ApnsSendResult[]> {
    const note = new Notification();
    note.topic = message.topic;
    if (message.collapseId) note.collapseId = message.collapseId;
    note.pushType = message.pushType ?? 'alert';
    note.priority = message.priority ?? 10;
    if (message.expiration !== undefined) note.expiry = message.expiration;
    note.rawPayload = { ...message.custom, aps: message.aps };
    const { sent, failed } = await this.provider.send(note, tokens);
    const byToken = new Map<string, ApnsSendResult>();
    for (const s of sent) byToken.set(s.device, { token: s.device, ok: true });
    for (const f of failed) byToken.set(f.device, { token: f.device, ok: false, failure: f as ApnsFailure });
    return tokens.map((token) => byToken.get(token) ?? { token, ok: false, failure: { error: { message: 'no answer recorded for this token' } } });
  }

  async close(): Promise<void> {
    await this.provider.shutdown();
  }
}
