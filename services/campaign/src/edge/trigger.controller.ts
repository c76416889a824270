import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { KafkaBatchContext, KafkaController, KafkaHandlerOptions } from '@pushledger/kafka';
import { TrackMessage, TriggeredSends } from '../application/triggered-sends';

/** Every Segment `track` event on the ingest topic may trigger campaigns. The registration service dead-letters what it cannot use; this one passes it over. */
@KafkaController()
export class TriggerController {
  constructor(private readonly triggered: TriggeredSends) {}

  @EventPattern('ingest', { group: 'pushledger-campaign-triggers', dlq: 'triggersDlq', skipUndecodable: true } satisfies KafkaHandlerOptions)
  async onSegmentMessage(@Payload() body: TrackMessage, @Ctx() ctx: KafkaBatchContext): Promise<void> {
    const msg = ctx.getMessage();
    await this.triggered.onEvent(body, { fallbackEventId: `${msg.topic}/${msg.partition}/${msg.offset}`, appId: msg.headers['app-id'] || undefined });
  }
}
