import type { CampaignCountersResult, DailyPushStatsResult, DeliveryQuery, ListWebhooksQuery, MessageCountersResult, MessageOutcomesPageResult, OutcomeQueryResult, ReceiptV1, SendsPauseResult } from '@pushledger/contracts';
import { DeliveryLedger } from '../infrastructure/delivery-ledger';

/** Outcomes and counters as the ledger holds them; every read is by the asking app, so another app's id reads as missing. */
export class DeliveryReads {
  constructor(private readonly ledger: DeliveryLedger) {}

  async handle(query: Exclude<DeliveryQuery, ListWebhooksQuery>): Promise<MessageOutcomesPageResult | MessageCountersResult | CampaignCountersResult | OutcomeQueryResult | SendsPauseResult | DailyPushStatsResult> {
    await this.ledger.init();
    switch (query.type) {
      case 'GetMessageOutcomes':
        return this.ledger.outcomesPage(query.appId, query.messageId, Math.max(1, Math.min(1000, query.limit)), query.after);
      case 'GetMessageCounters':
        return { counters: await this.ledger.messageCounters(query.appId, query.messageId) };
      case 'GetCampaignCounters':
        return { counters: await this.ledger.campaignCounters(query.appId, query.campaignId) };
      case 'GetOutcome':
        return { outcome: await this.ledger.outcome(query.appId, query.messageId, query.deviceId) };
      case 'GetSendsPause':
        return { reason: await this.ledger.pausedReason(query.appId) };
      case 'GetDailyPushStats':
        return { days: await this.ledger.dailyCounters(query.appId, query.from, query.to) };
    }
  }

  /** A receipt for a pair the ledger does not hold (yet) is dropped: the gateway checked the pair before accepting it. */
  async receipt(r: ReceiptV1): Promise<void> {
    await this.ledger.init();
    await this.ledger.applyReceipt(r.appId, r.messageId, r.deviceId, r.kind, new Date(r.at));
  }
}
