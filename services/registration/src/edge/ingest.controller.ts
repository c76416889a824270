import { Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { KafkaMessage } from 'kafkajs';
import type { PushledgerConfig } from '@pushledger/config';
import { COMMAND_KEY_CONCURRENCY, KafkaBatchContext, KafkaController, KafkaHandlerOptions, PoisonMessageError } from '@pushledger/kafka';
import { CONFIG } from '@pushledger/platform';
import { SegmentIngestHandler, SegmentRejectedError } from '../application/segment-ingest.handler';

const INGEST = { group: 'pushledger-registration-ingest', dlq: 'ingestDlq', keyConcurrency: COMMAND_KEY_CONCURRENCY, laneOf: segmentLane } satisfies KafkaHandlerOptions;

/** Segment-format messages from Kafka. A message that can never be applied goes to the DLQ with the reason; the partition keeps moving. */
@KafkaController()
export class IngestController {
  constructor(
    private readonly ingest: SegmentIngestHandler,
    @Inject(CONFIG) private readonly config: PushledgerConfig,
  ) {}

  /** Upstream systems: the write key in the message names the app; an `app-id` header only with INGEST_TRUST_APP_ID_HEADER=true. */
  @EventPattern('ingest', INGEST)
  async onSegmentMessage(@Payload() body: unknown, @Ctx() ctx: KafkaBatchContext): Promise<void> {
    await this.apply(body, ctx, this.config.ingest.trustAppIdHeader);
  }

  /** The gateway's Segment HTTP routes: it authenticated the caller and names the app in the header (only the gateway writes this topic). */
  @EventPattern('gatewayIngest', INGEST)
  async onGatewayMessage(@Payload() body: unknown, @Ctx() ctx: KafkaBatchContext): Promise<void> {
    await this.apply(body, ctx, true);
  }

  private async apply(body: unknown, ctx: KafkaBatchContext, trustAppId: boolean): Promise<void> {
    const msg = ctx.getMessage();
    try {
      await this.ingest.apply(body, { id: `${msg.topic}/${msg.partition}/${msg.offset}`, appId: msg.headers['app-id'] || undefined, trustAppId, publishedAt: Number(msg.timestamp) });
    } catch (err) {
      if (err instanceof SegmentRejectedError) throw new PoisonMessageError(err.reason, err.message);
      throw err;
    }
  }
}

/** Messages about one device stay in order (upstream systems often publish without a key). */
export function segmentLane(message: KafkaMessage): string {
  if (message.key?.length) return message.key.toString('utf8');
  try {
    const m = JSON.parse(message.value?.toString('utf8') ?? '') as { properties?: { deviceId?: unknown }; anonymousId?: unknown; userId?: unknown; context?: { device?: { id?: unknown } } };
    const lane = m.properties?.deviceId ?? m.anonymousId ?? m.context?.device?.id ?? m.userId;
    return typeof lane === 'string' ? lane : '';
  } catch {
    return '';
  }
}
