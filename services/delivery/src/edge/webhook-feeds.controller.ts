import { EventPattern, Payload } from '@nestjs/microservices';
import type { DeliveryOutcomeV1 } from '@pushledger/contracts';
import { KafkaController, KafkaHandlerOptions, PoisonMessageError } from '@pushledger/kafka';
import { Webhooks, type LifecycleEnvelope } from '../application/webhooks';

/** Lifecycle facts and push outcomes, as deliveries owed to the apps' webhooks. Lanes are the topics' keys (a stream; a message and device), so one device's facts stay in order. */
@KafkaController()
export class WebhookFeedsController {
  constructor(private readonly webhooks: Webhooks) {}

  @EventPattern('deviceLifecycle', { group: 'pushledger-webhooks', dlq: 'webhookLifecycleDlq', keyConcurrency: 16 } satisfies KafkaHandlerOptions)
  async onFact(@Payload() e: LifecycleEnvelope): Promise<void> {
    if (typeof e?.eventId !== 'string' || typeof e.type !== 'string' || typeof e.stream !== 'string') throw new PoisonMessageError('invalid_fact', 'eventId, type and stream are required');
    await this.webhooks.onLifecycle([e]);
  }

  @EventPattern('deliveryOutcomes', { group: 'pushledger-webhooks', dlq: 'webhookOutcomesDlq', keyConcurrency: 16 } satisfies KafkaHandlerOptions)
  async onOutcome(@Payload() o: DeliveryOutcomeV1 | { type: string }): Promise<void> {
    // The topic also carries app alerts (AppSendsPaused): not an outcome.
    if ('type' in o) return;
    if (typeof o?.appId !== 'string' || typeof o.messageId !== 'string' || typeof o.deviceId !== 'string' || typeof o.outcome !== 'string') throw new PoisonMessageError('invalid_outcome', 'appId, messageId, deviceId and outcome are required');
    await this.webhooks.onOutcomes([o]);
  }
}
