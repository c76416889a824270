import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import { groupFor, IDENTITY_COMMAND_TYPES, IdentityCommand, TopicMap } from '@pushledger/contracts';
import type { PushledgerConfig } from '@pushledger/config';
import { DomainError } from '@pushledger/domain';
import { CommandReply, CommandServer, PoisonMessageError, ensureTopics, createProducer } from '@pushledger/kafka';
import { DeviceDispatch, UserFlows } from '@pushledger/lifecycle';
import { JsonLogger } from '@pushledger/observability';
import { CONFIG, KAFKA, TOPICS } from '@pushledger/platform';

/** Hands device commands that follow from user facts (detach, anonymise) to the registration service. */
export async function dispatchToRegistration(producer: Producer, topic: string, commands: DeviceDispatch[]): Promise<void> {
  if (!commands.length) return;
  await producer.send({ topic, acks: -1, messages: commands.map((c) => ({ key: c.deviceId, value: JSON.stringify(c) })) });
}

/** User commands (traits, unsubscribe, erase) on the user streams. */
@Injectable()
export class IdentityCommandsConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private server?: CommandServer;
  private producer?: Producer;

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(TOPICS) private readonly topics: TopicMap,
    @Inject(CONFIG) private readonly config: PushledgerConfig,
    private readonly flows: UserFlows,
    private readonly logger: JsonLogger,
  ) {}

  async onApplicationBootstrap() {
    await ensureTopics(this.kafka, Object.values(this.topics), 8);
    this.producer = createProducer(this.kafka);
    await this.producer.connect();
    this.server = new CommandServer({
      kafka: this.kafka,
      groupId: groupFor('pushledger-identity', this.config.kafka.topicSuffix),
      topic: this.topics.identityCommands,
      dlqTopic: this.topics.identityCommandsDlq,
      logger: this.logger,
      handle: async (envelope): Promise<CommandReply> => {
        const command = envelope as unknown as IdentityCommand;
        if (!(IDENTITY_COMMAND_TYPES as readonly string[]).includes(command.type) || !command.appId || !command.userId) throw new PoisonMessageError('unknown_command', `unknown command type ${command.type}`);
        try {
          const { view, dispatch, position } = await this.flows.handle(command, new Date());
          await dispatchToRegistration(this.producer!, this.topics.registrationCommands, dispatch);
          return { commandId: command.commandId, ok: true, result: view, position: position.toString() };
        } catch (err) {
          if (err instanceof DomainError) return { commandId: command.commandId, ok: false, error: { code: err.code, message: err.message } };
          throw err;
        }
      },
    });
    await this.server.start();
  }

  async onApplicationShutdown() {
    await this.server?.stop();
    await this.producer?.disconnect().catch(() => undefined);
  }
}
