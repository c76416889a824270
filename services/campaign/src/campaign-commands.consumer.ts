import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type { PushledgerConfig } from '@pushledger/config';
import { CampaignCommand, groupFor, TopicMap } from '@pushledger/contracts';
import { AppRegistry } from '@pushledger/apps';
import { CommandReply, CommandServer, PoisonMessageError } from '@pushledger/kafka';
import { JsonLogger } from '@pushledger/observability';
import { CONFIG, KAFKA, TOPICS } from '@pushledger/platform';
import { CampaignError, CampaignRunner } from './campaign.runner';
import { CampaignScheduler } from './campaign.scheduler';
import { PushSender } from './push.sender';

/** Commands from the gateway: pushes (`POST /v1/push`), campaign creation and sends. */
@Injectable()
export class CampaignCommandsConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private server?: CommandServer;

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(TOPICS) private readonly topics: TopicMap,
    @Inject(CONFIG) private readonly config: PushledgerConfig,
    private readonly apps: AppRegistry,
    private readonly pushes: PushSender,
    private readonly runner: CampaignRunner,
    private readonly scheduler: CampaignScheduler,
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
        const command = envelope as unknown as CampaignCommand;
        const app = command.appId ? await this.apps.get(command.appId) : undefined;
        if (!app) return { commandId: command.commandId, ok: false, error: { code: 'not_found', message: 'app not found' } };
        try {
          switch (command.type) {
            case 'SendPush':
              return { commandId: command.commandId, ok: true, result: await this.pushes.send({ ...command, campaignId: null }, app) };
            case 'CreateCampaign':
              return { commandId: command.commandId, ok: true, result: await this.runner.create(command.campaign) };
            case 'SendCampaign': {
              const result = await this.runner.send(app, command.campaignId, command.messageId, command.to, command.properties);
              if (result.status === 'sending') this.scheduler.kick();
              return { commandId: command.commandId, ok: true, result };
            }
            default: {
              const _exhaustive: never = command;
              throw new PoisonMessageError('unknown_command', `unknown command type ${(_exhaustive as { type: string }).type}`);
            }
          }
        } catch (err) {
          if (err instanceof CampaignError) return { commandId: command.commandId, ok: false, error: { code: err.code, message: err.message } };
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
