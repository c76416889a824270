import type { ApnsSenders } from './apns-senders';
import type { FcmSenders } from './fcm-senders';
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

/** FCM and APNs; a provider with no sender here (web push) has none for any app. */
export class ProviderSenders implements PushSenders {
  constructor(
    private readonly fcm: FcmSenders,
    private readonly apns: ApnsSenders,
  ) {}

  for(app: AppRecord, provider: Provider): ProviderSender | null {
    if (provider === 'fcm') return this.fcm.sender(app);
    if (provider === 'apns') return this.apns.sender(app);
    return null;
  }

  async close(): Promise<void> {
    await Promise.all([this.fcm.close(), this.apns.close()]);
  }
}
