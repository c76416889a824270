import { Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { PushledgerConfig } from '@pushledger/config';
import { KafkaBatchContext, KafkaController, KafkaHandlerOptions } from '@pushledger/kafka';
import { CONFIG } from '@pushledger/platform';
import { TrackMessage, TriggeredSends } from '../application/triggered-sends';

const TRIGGERS = { group: 'pushledger-campaign-triggers', dlq: 'triggersDlq', skipUndecodable: true } satisfies KafkaHandlerOptions;

/** Every Segment `track` event on the ingest topics may trigger campaigns. The registration service dead-letters what it cannot use; this one passes it over. */
@KafkaController()
export class TriggerController {
  constructor(
    private readonly triggered: TriggeredSends,
    @Inject(CONFIG) private readonly config: PushledgerConfig,
  ) {}

  /** Upstream systems: the write key names the app; an `app-id` header only with INGEST_TRUST_APP_ID_HEADER=true. */
  @EventPattern('ingest', TRIGGERS)
  async onSegmentMessage(@Payload() body: TrackMessage, @Ctx() ctx: KafkaBatchContext): Promise<void> {
    await this.onEvent(body, ctx, this.config.ingest.trustAppIdHeader);
  }

  /** The gateway's Segment HTTP routes name the authenticated caller's app in the header. */
  @EventPattern('gatewayIngest', TRIGGERS)
  async onGatewayMessage(@Payload() body: TrackMessage, @Ctx() ctx: KafkaBatchContext): Promise<void> {
    await this.onEvent(body, ctx, true);
  }

  private async onEvent(body: TrackMessage, ctx: KafkaBatchContext, trustAppId: boolean): Promise<void> {
    const msg = ctx.getMessage();
    await this.triggered.onEvent(body, { fallbackEventId: `${msg.topic}/${msg.partition}/${msg.offset}`, appId: msg.headers['app-id'] || undefined, trustAppId });
  }
}
