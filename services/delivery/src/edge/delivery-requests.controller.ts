import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { AppRegistry } from '@pushledger/apps';
import { DeliveryRequestV1, isSealedTarget, MAX_TARGETS_PER_REQUEST } from '@pushledger/contracts';
import { KafkaBatchContext, KafkaController, KafkaHandlerOptions, PoisonMessageError } from '@pushledger/kafka';
import { messagesHandled } from '@pushledger/platform';
import { DeliveryHandler } from '../application/delivery.handler';

/**
 * A crashed instance's partitions move once the group misses its heartbeats for this long and the survivors rejoin
 * (they learn of the rebalance at their next heartbeat, and stop at the next provider batch): under 10 s. 6 s is
 * the brokers' default smallest session (group.min.session.timeout.ms); a heartbeat a second leaves the rest for
 * the batch in hand and the rejoin. A live instance heartbeats while its handler works too (the consumer runner's
 * keep-alive), and waits at most MAX_WAIT_IN_HANDLER_MS in place.
 */
const DELIVERY_SESSION_TIMEOUT_MS = 6_000;
const DELIVERY_HEARTBEAT_INTERVAL_MS = 1_000;

/** Delivery requests; several partitions in flight give several sendEach batches at once. */
@KafkaController()
export class DeliveryRequestsController {
  constructor(
    private readonly apps: AppRegistry,
    private readonly delivery: DeliveryHandler,
  ) {}

  @EventPattern('deliveryRequests', { group: 'pushledger-delivery', dlq: 'deliveryRequestsDlq', sessionTimeout: DELIVERY_SESSION_TIMEOUT_MS, heartbeatInterval: DELIVERY_HEARTBEAT_INTERVAL_MS } satisfies KafkaHandlerOptions)
  async onDeliveryRequest(@Payload() req: DeliveryRequestV1, @Ctx() ctx: KafkaBatchContext): Promise<void> {
    if (!req?.messageId || !req.appId || !Array.isArray(req.targets) || req.targets.length > MAX_TARGETS_PER_REQUEST || !req.content || (req.skipped !== undefined && (!Array.isArray(req.skipped) || req.skipped.length > MAX_TARGETS_PER_REQUEST))) {
      throw new PoisonMessageError('invalid_request', `messageId, appId, content and at most ${MAX_TARGETS_PER_REQUEST} targets (and skipped devices) are required`);
    }
    if (req.targets.some((t) => typeof t?.deviceId !== 'string' || (!isSealedTarget(t) && typeof t.token !== 'string'))) {
      throw new PoisonMessageError('invalid_request', 'every target needs a device id and a sealed recipient (or a token)');
    }
    const app = await this.apps.get(req.appId);
    if (!app) throw new PoisonMessageError('unknown_app', `app ${req.appId} not found`);
    const outcomes = await this.delivery.handle(req, app, ctx.getMessage().heartbeat);
    for (const o of outcomes) messagesHandled.inc({ topic: 'fcm', outcome: o.outcome });
  }
}
