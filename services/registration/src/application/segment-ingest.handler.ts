import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import { AppRecord, planSegmentMessage, SegmentValidationError, TopicMap, userMessageKey } from '@pushledger/contracts';
import { DeviceNotFoundError, DomainError } from '@pushledger/domain';
import { AppRegistry, hashKey } from '@pushledger/apps';
import { commandSeals, createProducer, type MessageSeal } from '@pushledger/kafka';
import { DeviceFlows } from './device-flows';
import { segmentTenant, SegmentTenantSource } from '@pushledger/lifecycle';
import { CONFIG, KAFKA, TOPICS, withOpenIdentitySecret } from '@pushledger/platform';
import type { PushledgerConfig } from '@pushledger/config';

/** How long an app created elsewhere may take to reach this process's registry (its store subscription polls each second). */
const NEW_APP_GRACE_MS = 1500;
const UNKNOWN_KEY_TTL_MS = 60_000;
const MAX_UNKNOWN_KEYS = 10_000;

/** A Segment message that can never be applied; `reason` is a short code. */
export class SegmentRejectedError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** Where a Segment message came from: its id (for idempotency), the app named beside it and whether that counts, when it was published. */
export interface SegmentSource extends SegmentTenantSource {
  id: string;
  publishedAt: number;
}

/**
 * Segment-format messages from upstream systems (and the gateway's /v1/track|identify|batch): device
 * registrations and identifies are applied here; traits go on to the identity service.
 */
@Injectable()
export class SegmentIngestHandler implements OnModuleInit, OnApplicationShutdown {
  private readonly producer: Producer;
  private readonly commandSeal: MessageSeal;
  /** Key hashes still unknown after the grace, until when: a flood with one wrong key waits once. */
  private readonly unknownKeys = new Map<string, number>();

  constructor(
    @Inject(KAFKA) kafka: Kafka,
    @Inject(TOPICS) private readonly topics: TopicMap,
    private readonly flows: DeviceFlows,
    private readonly apps: AppRegistry,
    @Inject(CONFIG) private readonly config: PushledgerConfig,
  ) {
    this.producer = createProducer(kafka);
    this.commandSeal = commandSeals(config).command;
  }

  async onModuleInit() {
    await this.producer.connect();
  }

  async onApplicationShutdown() {
    await this.producer.disconnect().catch(() => undefined);
  }

  /** Throws SegmentRejectedError for a message that can never be applied; other errors are transient. */
  async apply(body: unknown, source: SegmentSource): Promise<void> {
    // The identity secret's hash is opened for the user-hash check only (sealed in the store and on the apps topic).
    const open = (app: AppRecord | undefined) => app && withOpenIdentitySecret(app, this.config.secretKey);
    const tenant = await segmentTenant(body, source, { byWriteKey: async (key) => open(await this.appByKey(key, source.publishedAt)), byId: async (id) => open(await this.apps.get(id)) });
    if (!('app' in tenant)) throw new SegmentRejectedError(tenant.reason, tenant.message);
    const { app } = tenant;
    let plan;
    try {
      plan = planSegmentMessage(body, app.id, source.id, new Date());
    } catch (err) {
      if (err instanceof SegmentValidationError) throw new SegmentRejectedError('validation_failed', err.message);
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
            await this.producer.send({ topic: this.topics.identityCommands, acks: -1, messages: [{ key: userMessageKey(plan.traits.appId, plan.traits.userId, this.config.secretKey?.key), value: this.commandSeal.seal(plan.traits) }] });
          }
          break;
        case 'event':
        case 'ignored':
          break;
      }
    } catch (err) {
      if (err instanceof DomainError) throw new SegmentRejectedError(err.code, err.message);
      throw err;
    }
  }

  /**
   * The app of a write key. An app created a moment before the message was published may not have
   * reached this process's registry yet (it follows the store): a miss on a recent message waits for
   * it, at most the grace, once per unknown key.
   */
  private async appByKey(writeKey: string, publishedAt: number): Promise<AppRecord | undefined> {
    const found = this.apps.findByKey(writeKey);
    if (found) return found.app;
    const hash = hashKey(writeKey);
    const now = Date.now();
    if ((this.unknownKeys.get(hash) ?? 0) > now) return undefined;
    const wait = Math.min(NEW_APP_GRACE_MS, (Number.isFinite(publishedAt) ? publishedAt : now) + NEW_APP_GRACE_MS - now);
    if (wait > 0) {
      await new Promise((r) => setTimeout(r, wait));
      const late = this.apps.findByKey(writeKey);
      if (late) return late.app;
    }
    if (this.unknownKeys.size >= MAX_UNKNOWN_KEYS) this.unknownKeys.clear();
    this.unknownKeys.set(hash, Date.now() + UNKNOWN_KEY_TTL_MS);
    return undefined;
  }
}
