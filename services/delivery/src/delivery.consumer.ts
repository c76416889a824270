import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import { Pool } from 'pg';
import type { PushledgerConfig } from '@pushledger/config';
import { DeliveryRequestV1, groupFor, MAX_TARGETS_PER_REQUEST, TopicMap } from '@pushledger/contracts';
import type { EventStore } from '@pushledger/event-store';
import { AppRegistry } from '@pushledger/apps';
import { ConsumerRunner, createProducer, InboundMessage, PoisonMessageError } from '@pushledger/kafka';
import { JsonLogger } from '@pushledger/observability';
import { CONFIG, EVENT_STORE, KAFKA, messagesHandled, TOPICS } from '@pushledger/platform';
import { DeliveryHandler } from './delivery.handler';
import { DeliveryLedger } from './delivery-ledger';
import { FcmSenders } from './fcm-senders';

/** Consumes delivery requests; several partitions in flight give several sendEach batches at once. */
@Injectable()
export class DeliveryConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private runner?: ConsumerRunner;
  private producer?: Producer;
  private pool?: Pool;
  private senders?: FcmSenders;
  private apps!: AppRegistry;
  private handler!: DeliveryHandler;

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(TOPICS) private readonly topics: TopicMap,
    @Inject(CONFIG) private readonly config: PushledgerConfig,
    private readonly logger: JsonLogger,
  ) {}

  async onApplicationBootstrap() {
    this.apps = new AppRegistry(this.store);
    await this.apps.start();
    this.pool = new Pool({ connectionString: this.config.eventStore.postgresUrl, max: 10 });
    const ledger = new DeliveryLedger(this.pool);
    await ledger.init();
    this.producer = createProducer(this.kafka);
    await this.producer.connect();
    this.senders = new FcmSenders(this.config);
    this.handler = new DeliveryHandler(this.config, this.topics, ledger, this.senders, this.producer, this.logger);
    this.runner = new ConsumerRunner({
      kafka: this.kafka,
      groupId: groupFor('pushledger-delivery', this.config.kafka.topicSuffix),
      topics: [this.topics.deliveryRequests],
      dlqTopic: this.topics.deliveryRequestsDlq,
      logger: this.logger,
      partitionsConsumedConcurrently: 8,
      sessionTimeout: 60000,
      handle: (msg) => this.handle(msg),
    });
    await this.runner.start();
  }

  private async handle(msg: InboundMessage): Promise<void> {
    let req: DeliveryRequestV1;
    try {
      req = JSON.parse(msg.value?.toString('utf8') ?? '');
    } catch {
      throw new PoisonMessageError('invalid_json');
    }
    if (!req?.messageId || !req.appId || !Array.isArray(req.targets) || req.targets.length > MAX_TARGETS_PER_REQUEST || !req.content) {
      throw new PoisonMessageError('invalid_request', `messageId, appId, content and at most ${MAX_TARGETS_PER_REQUEST} targets are required`);
    }
    const app = await this.apps.get(req.appId);
    if (!app) throw new PoisonMessageError('unknown_app', `app ${req.appId} not found`);
    const outcomes = await this.handler.handle(req, app, msg.heartbeat);
    for (const o of outcomes) messagesHandled.inc({ topic: 'fcm', outcome: o.outcome });
  }

  async onApplicationShutdown() {
    await this.runner?.stop();
    await this.producer?.disconnect().catch(() => undefined);
    await this.senders?.close();
    await this.apps?.stop();
    await this.pool?.end().catch(() => undefined);
  }
}
