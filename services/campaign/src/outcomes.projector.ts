import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type { PushledgerConfig } from '@pushledger/config';
import { DeliveryOutcomeV1, groupFor, ReceiptV1, TopicMap } from '@pushledger/contracts';
import { ConsumerRunner, InboundMessage, PoisonMessageError } from '@pushledger/kafka';
import { MessageOutcomesStore } from '@pushledger/messages';
import { JsonLogger } from '@pushledger/observability';
import { CONFIG, KAFKA, TOPICS } from '@pushledger/platform';

/** Delivery outcomes and app receipts into the messages read model (idempotent upserts per pair). */
@Injectable()
export class OutcomesProjector implements OnApplicationBootstrap, OnApplicationShutdown {
  private runner?: ConsumerRunner;

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(TOPICS) private readonly topics: TopicMap,
    @Inject(CONFIG) private readonly config: PushledgerConfig,
    private readonly store: MessageOutcomesStore,
    private readonly logger: JsonLogger,
  ) {}

  async onApplicationBootstrap() {
    await this.store.init();
    this.runner = new ConsumerRunner({
      kafka: this.kafka,
      groupId: groupFor('pushledger-campaign-outcomes', this.config.kafka.topicSuffix),
      topics: [this.topics.deliveryOutcomes, this.topics.receipts],
      dlqTopic: `${this.topics.deliveryOutcomes}.campaign.dlq`,
      logger: this.logger,
      partitionsConsumedConcurrently: 8,
      handle: (msg) => this.handle(msg),
    });
    await this.runner.start();
  }

  private async handle(msg: InboundMessage): Promise<void> {
    let body: unknown;
    try {
      body = JSON.parse(msg.value?.toString('utf8') ?? '');
    } catch {
      throw new PoisonMessageError('invalid_json');
    }
    if (msg.topic === this.topics.receipts) {
      await this.store.applyReceipt(body as ReceiptV1);
      return;
    }
    if (msg.headers.kind === 'outcome') await this.store.applyOutcomes([body as DeliveryOutcomeV1]);
  }

  async onApplicationShutdown() {
    await this.runner?.stop();
  }
}
