import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import { AppRecord, groupFor, TopicMap } from '@pushledger/contracts';
import type { PushledgerConfig } from '@pushledger/config';
import { DeviceNotFoundError, DomainError } from '@pushledger/domain';
import type { EventStore } from '@pushledger/event-store';
import { AppRegistry, hashKey } from '@pushledger/apps';
import { ConsumerRunner, InboundMessage, PoisonMessageError, createProducer } from '@pushledger/kafka';
import { DeviceFlows, planSegmentMessage, SegmentValidationError } from '@pushledger/lifecycle';
import { JsonLogger } from '@pushledger/observability';
import { CONFIG, EVENT_STORE, KAFKA, messagesHandled, TOPICS } from '@pushledger/platform';

/** How long an app created elsewhere may take to reach this process's registry (its store subscription polls each second). */
const NEW_APP_GRACE_MS = 1500;
const UNKNOWN_KEY_TTL_MS = 60_000;

/**
 * Segment-format messages from upstream systems (and the gateway's /v1/track|identify|batch): device
 * registrations and identifies are applied here; traits go on to the identity service. A message that
 * can never be applied goes to the DLQ with the reason; the partition keeps moving.
 */
@Injectable()
export class IngestConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private runner?: ConsumerRunner;
  private producer?: Producer;
  /** Key hashes still unknown after the grace, until when: a flood with one wrong key waits once. */
  private readonly unknownKeys = new Map<string, number>();

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(TOPICS) private readonly topics: TopicMap,
    @Inject(CONFIG) private readonly config: PushledgerConfig,
    private readonly flows: DeviceFlows,
    private readonly apps: AppRegistry,
    private readonly logger: JsonLogger,
  ) {}

  async onApplicationBootstrap() {
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
    try {
      await this.apply(msg);
    } catch (err) {
      if (err instanceof PoisonMessageError) messagesHandled.inc({ topic: msg.topic, outcome: 'dlq' });
      throw err;
    }
    messagesHandled.inc({ topic: msg.topic, outcome: 'applied' });
  }

  private async apply(msg: InboundMessage): Promise<void> {
    let body: unknown;
    try {
      body = JSON.parse(msg.value?.toString('utf8') ?? '');
    } catch {
      throw new PoisonMessageError('invalid_json', 'the message is not valid JSON');
    }
    const writeKey = body && typeof body === 'object' ? (body as { writeKey?: unknown }).writeKey : undefined;
    const headerApp = msg.headers['app-id'];
    const app = typeof writeKey === 'string' ? await this.appByKey(writeKey, msg) : headerApp ? await this.apps.get(headerApp) : undefined;
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
  }

  /**
   * The app of a write key. An app created a moment before the message was published may not have
   * reached this process's registry yet (it follows the store): a miss on a recent message waits for
   * it, at most the grace, once per unknown key.
   */
  private async appByKey(writeKey: string, msg: InboundMessage): Promise<AppRecord | undefined> {
    const found = this.apps.findByKey(writeKey);
    if (found) return found.app;
    const hash = hashKey(writeKey);
    const now = Date.now();
    if ((this.unknownKeys.get(hash) ?? 0) > now) return undefined;
    const published = Number(msg.timestamp);
    const wait = Math.min(NEW_APP_GRACE_MS, (Number.isFinite(published) ? published : now) + NEW_APP_GRACE_MS - now);
    if (wait > 0) {
      await new Promise((r) => setTimeout(r, wait));
      const late = this.apps.findByKey(writeKey);
      if (late) return late.app;
    }
    if (this.unknownKeys.size >= 10_000) this.unknownKeys.clear();
    this.unknownKeys.set(hash, Date.now() + UNKNOWN_KEY_TTL_MS);
    return undefined;
  }

  async onApplicationShutdown() {
    await this.runner?.stop();
    await this.producer?.disconnect().catch(() => undefined);
  }
}
