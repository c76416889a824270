import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'crypto';
import type { Consumer, Kafka } from 'kafkajs';
import { AppKeyIndex, type AppDirectoryEntryV1, type TopicMap } from '@pushledger/contracts';
import { JsonLogger } from '@pushledger/observability';
import { reviveOnFatalCrash } from '@pushledger/kafka';
import type { PushledgerConfig } from '@pushledger/config';
import { CONFIG, HEALTH_CHECKS, KAFKA, TOPICS, withOpenIdentitySecret, type HealthCheck } from '@pushledger/platform';
import { OwnerClient, OwnerUnavailableError } from './owner.client';

const LOAD_RETRY_MS = 1000;

/**
 * Every app, in memory, for auth (keys by hash) and settings. Fed by the registration service, which owns
 * the app streams: a ListApps query at start-up, the replies to this gateway's own app commands, and
 * `pushledger.apps.v1`, read from its start by every replica, so changes made through another gateway
 * arrive too. An entry applies only over an older revision, whichever way it comes first. Until the list
 * has come, `/health` reports `apps` down and a key it does not know yet cannot be judged (`loaded`).
 */
@Injectable()
export class AppDirectory implements OnModuleInit, OnApplicationShutdown {
  private readonly apps = new AppKeyIndex<AppDirectoryEntryV1>();
  private consumer?: Consumer;
  private stopped = false;
  loaded = false;

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(TOPICS) private readonly topics: TopicMap,
    private readonly owners: OwnerClient,
    private readonly logger: JsonLogger,
    @Inject(HEALTH_CHECKS) checks: Record<string, HealthCheck>,
    @Inject(CONFIG) private readonly config: PushledgerConfig,
  ) {
    checks.apps = async () => {
      if (!this.loaded) throw new Error('the app list has not come from the registration service yet');
    };
  }

  /** The list is asked for in the background (retried until the registration service answers): the port opens meanwhile. */
  async onModuleInit() {
    // The topic exists once the client has made sure of every topic.
    await this.owners.ready();
    await this.follow();
    void this.load();
  }

  apply(entry: AppDirectoryEntryV1): void {
    const before = this.apps.get(entry.id);
    if (before && before.revision >= entry.revision) return;
    // Entries come with the identity secret's hash sealed; this is where user hashes are verified, so it is opened here, in memory only.
    this.apps.put(withOpenIdentitySecret(entry, this.config.secretKey));
  }

  findByKey(key: string): { app: AppDirectoryEntryV1; kind: 'write' | 'server' } | undefined {
    return this.apps.findByKey(key);
  }

  get(appId: string): AppDirectoryEntryV1 | undefined {
    return this.apps.get(appId);
  }

  all(): AppDirectoryEntryV1[] {
    return this.apps.all();
  }

  /** Its own consumer group, from the topic's start: every replica gets every change (offsets are never committed). */
  private async follow(): Promise<void> {
    // A broker outage must not leave this replica deaf to app changes: the consumer restarts after any failure.
    await this.consumer?.disconnect().catch(() => undefined);
    const consumer = this.kafka.consumer({ groupId: `pushledger-gateway-apps-${randomUUID()}`, maxWaitTimeInMs: 200, retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5000, restartOnFailure: async () => true } });
    this.consumer = consumer;
    reviveOnFatalCrash(consumer, { name: 'app directory', start: () => this.follow(), stopped: () => this.stopped, logger: this.logger });
    await consumer.connect();
    await consumer.subscribe({ topic: this.topics.apps, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ message }) => {
        if (!message.value) return;
        try {
          this.apply(JSON.parse(message.value.toString('utf8')) as AppDirectoryEntryV1);
        } catch (err) {
          this.logger.warn('unreadable app directory entry', { error: (err as Error).message });
        }
      },
    });
  }

  private async load(): Promise<void> {
    while (!this.stopped) {
      try {
        for (const entry of await this.owners.listApps()) this.apply(entry);
        this.loaded = true;
        this.logger.log(`app directory loaded: ${this.apps.size} apps`);
        return;
      } catch (err) {
        if (this.stopped) return;
        const why = err instanceof OwnerUnavailableError ? 'the registration service did not answer ListApps' : 'ListApps failed';
        this.logger.warn(`app directory: ${why}; asking again`, { error: (err as Error).message });
        await new Promise((r) => setTimeout(r, LOAD_RETRY_MS));
      }
    }
  }

  async onApplicationShutdown() {
    this.stopped = true;
    await this.consumer?.disconnect().catch(() => undefined);
  }
}
