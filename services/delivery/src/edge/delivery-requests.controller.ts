import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { AppRegistry } from '@pushledger/apps';
import { DeliveryRequestV1, MAX_TARGETS_PER_REQUEST } from '@pushledger/contracts';
import { KafkaBatchContext, KafkaController, KafkaHandlerOptions, PoisonMessageError } from '@pushledger/kafka';
import { messagesHandled } from '@pushledger/platform';
import { DeliveryHandler } from '../application/delivery.handler';

/**
 * A crashed instance's partitions move to another after this. 10 s (with waits capped at MAX_WAIT_IN_HANDLER_MS and a
 * heartbeat after every provider batch) stalled the 20,000-device broadcast kill test after a restart: kept at 60 s.
 */
const DELIVERY_SESSION_TIMEOUT_MS = 60_000;

/** Delivery requests; several partitions in flight give several sendEach batches at once. */
@KafkaController()
export class DeliveryRequestsController {
  constructor(
    private readonly apps: AppRegistry,
    private readonly delivery: DeliveryHandler,
  ) {}

  @EventPattern('deliveryRequests', { group: 'pushledger-delivery', dlq: 'deliveryRequestsDlq', sessionTimeout: DELIVERY_SESSION_TIMEOUT_MS } satisfies KafkaHandlerOptions)
  async onDeliveryRequest(@Payload() req: DeliveryRequestV1, @Ctx() ctx: KafkaBatchContext): Promise<void> {
    if (!req?.messageId || !req.appId || !Array.isArray(req.targets) || req.targets.length > MAX_TARGETS_PER_REQUEST || !req.content || (req.skipped !== undefined && (!Array.isArray(req.skipped) || req.skipped.length > MAX_TARGETS_PER_REQUEST))) {
      throw new PoisonMessageError('invalid_request', `messageId, appId, content and at most ${MAX_TARGETS_PER_REQUEST} targets (and skipped devices) are required`);
    }
    const app = await this.apps.get(req.appId);
    if (!app) throw new PoisonMessageError('unknown_app', `app ${req.appId} not found`);
    const outcomes = await this.delivery.handle(req, app, ctx.getMessage().heartbeat);
    for (const o of outcomes) messagesHandled.inc({ topic: 'fcm', outcome: o.outcome });
  }
}
