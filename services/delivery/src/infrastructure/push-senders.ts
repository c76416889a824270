import type { ApnsSenders } from './apns-senders';
import type { FcmSenders } from './fcm-senders';
import type { WebpushSenders } from './webpush-senders';
import type { AppRecord, DeliveryTargetV1, Provider, PushContentV1 } from '@pushledger/contracts';
import type { ProviderErrorClassification } from '../application/delivery-policy';

/** One target's answer: sent, or the provider's error classified. */
export type SendAnswer = { ok: true } | { ok: false; error: ProviderErrorClassification };

/** One provider's sends for one app; answers come in the order of `targets`. */
export interface ProviderSender {
  /** Targets per call (FCM sendEach takes 500). */
  readonly batchSize: number;
  send(messageId: string, targets: DeliveryTargetV1[], fallback: PushContentV1): Promise<SendAnswer[]>;
}

/** Senders by provider. `for` answers null when the app has no credentials for it and nothing stands in. */
export interface PushSenders {
  for(app: AppRecord, provider: Provider): ProviderSender | null;
  close(): Promise<void>;
}

/** FCM, APNs and Web Push, each through its own sender. */
export class ProviderSenders implements PushSenders {
  constructor(
    private readonly fcm: FcmSenders,
    private readonly apns: ApnsSenders,
    private readonly webpush: WebpushSenders,
  ) {}

  for(app: AppRecord, provider: Provider): ProviderSender | null {
    switch (provider) {
      case 'fcm':
        return this.fcm.sender(app);
      case 'apns':
        return this.apns.sender(app);
      case 'webpush':
        return this.webpush.sender(app);
      default: {
        const _exhaustive: never = provider;
        return _exhaustive;
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.fcm.close(), this.apns.close(), this.webpush.close()]);
  }
}
