import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import type { TopicMap } from '@pushledger/contracts';
import { commandSeals, createProducer, type MessageSeal } from '@pushledger/kafka';
import { DeviceDispatch } from '../application/user-flows';
import type { PushledgerConfig } from '@pushledger/config';
import { CONFIG, KAFKA, TOPICS } from '@pushledger/platform';

/** Hands device commands that follow from user facts (detach, anonymise) to the registration service. */
@Injectable()
export class RegistrationDispatcher implements OnModuleInit, OnApplicationShutdown {
  private readonly producer: Producer;
  private readonly seal: MessageSeal;

  constructor(
    @Inject(KAFKA) kafka: Kafka,
    @Inject(TOPICS) private readonly topics: TopicMap,
    @Inject(CONFIG) config: PushledgerConfig,
  ) {
    this.producer = createProducer(kafka);
    this.seal = commandSeals(config).command;
  }

  async onModuleInit() {
    await this.producer.connect();
  }

  async onApplicationShutdown() {
    await this.producer.disconnect().catch(() => undefined);
  }

  async dispatch(commands: DeviceDispatch[]): Promise<void> {
    if (!commands.length) return;
    await this.producer.send({ topic: this.topics.registrationCommands, acks: -1, messages: commands.map((c) => ({ key: c.deviceId, value: this.seal.seal(c) })) });
  }
}
