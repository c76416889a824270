import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import type { AppDirectoryEntryV1, TopicMap } from '@pushledger/contracts';
import { createProducer } from '@pushledger/kafka';
import { KAFKA, TOPICS } from '@pushledger/platform';
import type { AppChanges } from '../application/app-commands.handler';

/** Publishes each app's latest entry on `pushledger.apps.v1` (keyed by app id), so every gateway replica's directory follows. */
@Injectable()
export class AppChangesPublisher implements AppChanges, OnModuleInit, OnApplicationShutdown {
  private readonly producer: Producer;

  constructor(
    @Inject(KAFKA) kafka: Kafka,
    @Inject(TOPICS) private readonly topics: TopicMap,
  ) {
    this.producer = createProducer(kafka);
  }

  async onModuleInit() {
    await this.producer.connect();
  }

  /** Durable once this resolves (acks from all in-sync replicas). */
  async publish(entry: AppDirectoryEntryV1): Promise<void> {
    await this.producer.send({ topic: this.topics.apps, acks: -1, messages: [{ key: entry.id, value: JSON.stringify(entry) }] });
  }

  async onApplicationShutdown() {
    await this.producer.disconnect().catch(() => undefined);
  }
}
