import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import { groupFor, TopicMap } from '@pushledger/contracts';
import type { PushledgerConfig } from '@pushledger/config';
import { DeviceNotFoundError, DomainError } from '@pushledger/domain';
import type { EventStore } from '@pushledger/event-store';
import { AppRegistry } from '@pushledger/apps';
import { ConsumerRunner, InboundMessage, PoisonMessageError, createProducer } from '@pushledger/kafka';
import { DeviceFlows, planSegmentMessage, SegmentValidationError } from '@pushledger/lifecycle';
import { JsonLogger } from '@pushledger/observability';
import { CONFIG, EVENT_STORE, KAFKA, messagesHandled, TOPICS } from '@pushledger/platform';

/**
 * Segment-format messages from upstream systems (and the gateway's /v1/track|identify|batch): device
 * registrations and identifies are applied here; traits go on to the identity service. A message that
 * can never be applied goes to the DLQ with the reason; the partition keeps moving.
 */
@Injectable()
export class IngestConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private runner?: ConsumerRunner;
  private producer?: Producer;
  private apps!: AppRegistry;

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(TOPICS) private readonly topics: TopicMap,
    @Inject(CONFIG) private readonly config: PushledgerConfig,
    private readonly flows: DeviceFlows,
    private readonly logger: JsonLogger,
  ) {}

  async onApplicationBootstrap() {
    this.apps = new AppRegistry(this.store);
    await this.apps.start();
    this.producer = createProducer(this.kafka);
    await this.producer.connect();
    this.runner = new ConsumerRunner({
      kafka: this.kafka,
      groupId: groupFor('pushledger-registration-ingest', this.config.kafka.topicSuffix),
      topics: [this.topics.ingest],
      dlqTopic: this.topics.ingestDlq,
      logger: this.logger,
      partitionsConsumedConcurrently: 8,
      handle: (msg) => this.handle(msg),
    });
    await this.runner.start();
  }

  async handle(msg: InboundMessage): Promise<void> {
    let body: unknown;
    try {
      body = JSON.parse(msg.value?.toString('utf8') ?? '');
    } catch {
      messagesHandled.inc({ topic: msg.topic, outcome: 'dlq' });
      throw new PoisonMessageError('invalid_json', 'the message is not valid JSON');
    }
    const writeKey = body && typeof body === 'object' ? (body as { writeKey?: unknown }).writeKey : undefined;
    const headerApp = msg.headers['app-id'];
    const app = typeof writeKey === 'string' ? this.apps.findByKey(writeKey)?.app : headerApp ? await this.apps.get(headerApp) : undefined;
    if (!app) throw new PoisonMessageError('unknown_key', typeof writeKey === 'string' || headerApp ? 'unknown write key or app id' : 'writeKey or an app-id header is required');
    let plan;
    try {
      plan = planSegmentMessage(body, app.id, `${msg.topic}/${msg.partition}/${msg.offset}`, new Date());
    } catch (err) {
      if (err instanceof SegmentValidationError) throw new PoisonMessageError('validation_failed', err.message);
      throw err;
    }
    try {
      switch (plan.kind) {
        case 'register':
          await this.flows.handle(plan.command, new Date());
          break;
        case 'identify':
          if (plan.device) {
            try {
              await this.flows.handle(plan.device, new Date());
            } catch (err) {
              // An identify naming an anonymous id that never registered a device still carries traits.
              if (!(err instanceof DeviceNotFoundError)) throw err;
            }
          }
          if (plan.traits) {
            await this.producer!.send({ topic: this.topics.identityCommands, acks: -1, messages: [{ key: plan.traits.userId, value: JSON.stringify(plan.traits) }] });
          }
          break;
        case 'event':
        case 'ignored':
          break;
      }
    } catch (err) {
      if (err instanceof DomainError) throw new PoisonMessageError(err.code, err.message);
      throw err;
    }
    messagesHandled.inc({ topic: msg.topic, outcome: 'applied' });
  }

  async onApplicationShutdown() {
    await this.runner?.stop();
    await this.producer?.disconnect().catch(() => undefined);
    await this.apps?.stop();
  }
}
