import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type { PushledgerConfig } from '@pushledger/config';
import { groupFor, SendPushCommand, TopicMap } from '@pushledger/contracts';
import { AppRegistry } from '@pushledger/apps';
import { CommandReply, CommandServer, PoisonMessageError } from '@pushledger/kafka';
import { JsonLogger } from '@pushledger/observability';
import { CONFIG, KAFKA, TOPICS } from '@pushledger/platform';
import { PushSender } from './push.sender';

/** Sends named by the gateway (`POST /v1/push`, Twilio): plan, hand to delivery, reply with the counts. */
@Injectable()
export class CampaignCommandsConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private server?: CommandServer;

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(TOPICS) private readonly topics: TopicMap,
    @Inject(CONFIG) private readonly config: PushledgerConfig,
    private readonly apps: AppRegistry,
    private readonly pushes: PushSender,
    private readonly logger: JsonLogger,
  ) {}

  async onApplicationBootstrap() {
    this.server = new CommandServer({
      kafka: this.kafka,
      groupId: groupFor('pushledger-campaign', this.config.kafka.topicSuffix),
      topic: this.topics.campaignCommands,
      dlqTopic: this.topics.campaignCommandsDlq,
      logger: this.logger,
      handle: async (envelope): Promise<CommandReply> => {
        const command = envelope as unknown as SendPushCommand;
        if (command.type !== 'SendPush') throw new PoisonMessageError('unknown_command', `unknown command type ${command.type}`);
        const app = await this.apps.get(command.appId);
        if (!app) return { commandId: command.commandId, ok: false, error: { code: 'not_found', message: 'app not found' } };
        const result = await this.pushes.send({ ...command, campaignId: null }, app);
        return { commandId: command.commandId, ok: true, result };
      },
    });
    await this.server.start();
  }

  async onApplicationShutdown() {
    await this.server?.stop();
  }
}
