import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { DeliveryOutcomeV1, ReceiptV1 } from '@pushledger/contracts';
import { KafkaBatchContext, KafkaController, KafkaHandlerOptions } from '@pushledger/kafka';
import { MessageOutcomesStore } from '@pushledger/messages';

/** One consumer group for both topics: the messages read model's outcomes and receipts. */
const OUTCOMES: KafkaHandlerOptions = { group: 'pushledger-campaign-outcomes', dlq: 'campaignOutcomesDlq' };

/** Delivery outcomes and app receipts into the messages read model (idempotent upserts per pair). */
@KafkaController()
export class OutcomesController {
  constructor(private readonly store: MessageOutcomesStore) {}

  @EventPattern('deliveryOutcomes', OUTCOMES)
  async onDeliveryOutcome(@Payload() outcome: DeliveryOutcomeV1, @Ctx() ctx: KafkaBatchContext): Promise<void> {
    if (ctx.getMessage().headers.kind === 'outcome') await this.store.applyOutcomes([outcome]);
  }

  @EventPattern('receipts', OUTCOMES)
  async onReceipt(@Payload() receipt: ReceiptV1): Promise<void> {
    await this.store.applyReceipt(receipt);
  }
}
