import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import { APP_ADMIN_COMMAND_TYPES, AppAdminCommand, groupFor, REGISTRATION_COMMAND_TYPES, RegistrationCommand, TopicMap } from '@pushledger/contracts';
import type { PushledgerConfig } from '@pushledger/config';
import { DomainError } from '@pushledger/domain';
import { CommandReply, CommandServer, PoisonMessageError, ensureTopics } from '@pushledger/kafka';
import { DeviceFlows } from '@pushledger/lifecycle';
import { JsonLogger } from '@pushledger/observability';
import { CONFIG, KAFKA, TOPICS } from '@pushledger/platform';
import { AppCommandsHandler } from './app-commands.handler';

const KNOWN_TYPES: readonly string[] = [...REGISTRATION_COMMAND_TYPES, ...APP_ADMIN_COMMAND_TYPES];

function isAppCommand(command: RegistrationCommand | AppAdminCommand): command is AppAdminCommand {
  return (APP_ADMIN_COMMAND_TYPES as readonly string[]).includes(command.type);
}

/** Commands from the gateway and the identity service: decide on the device streams (or an app stream), reply with the device (or app) view. */
@Injectable()
export class RegistrationCommandsConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private server?: CommandServer;

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(TOPICS) private readonly topics: TopicMap,
    @Inject(CONFIG) private readonly config: PushledgerConfig,
    private readonly flows: DeviceFlows,
    private readonly apps: AppCommandsHandler,
    private readonly logger: JsonLogger,
  ) {}

  async onApplicationBootstrap() {
    await ensureTopics(this.kafka, Object.values(this.topics), 8);
    this.server = new CommandServer({
      kafka: this.kafka,
      groupId: groupFor('pushledger-registration', this.config.kafka.topicSuffix),
      topic: this.topics.registrationCommands,
      dlqTopic: this.topics.registrationCommandsDlq,
      logger: this.logger,
      handle: async (envelope): Promise<CommandReply> => {
        const command = envelope as unknown as RegistrationCommand | AppAdminCommand;
        if (!KNOWN_TYPES.includes(command.type) || !command.appId) throw new PoisonMessageError('unknown_command', `unknown command type ${command.type}`);
        try {
          if (isAppCommand(command)) {
            const { view, position } = await this.apps.handle(command, new Date());
            return { commandId: command.commandId, ok: true, result: { view }, position: position.toString() };
          }
          const { view, created, position } = await this.flows.handleWithOutcome(command, new Date());
          return { commandId: command.commandId, ok: true, result: { view, created }, position: position.toString() };
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
  }
}
