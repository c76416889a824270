import { MessagePattern, Payload } from '@nestjs/microservices';
import { AppRegistry } from '@pushledger/apps';
import { CAMPAIGN_QUERY_TYPES, CampaignCommand, CampaignQuery, SEGMENT_REQUEST_TYPES, SegmentRequest } from '@pushledger/contracts';
import { CommandEnvelope, CommandReply, KafkaController, KafkaHandlerOptions, PoisonMessageError } from '@pushledger/kafka';
import { answerQuery } from '@pushledger/platform';
import { SegmentRulesError } from '@pushledger/read-models';
import { CampaignError, CampaignRunner } from '../application/campaign.runner';
import { CampaignSends } from '../application/campaign-sends';
import { DomainError } from '@pushledger/domain';
import { CampaignScheduler } from '../application/campaign.scheduler';
import { PushSender } from '../application/push.sender';
import { SegmentsHandler } from '../application/segments.handler';

const isSegmentRequest = (r: CampaignCommand | SegmentRequest | CampaignQuery): r is SegmentRequest => (SEGMENT_REQUEST_TYPES as readonly string[]).includes(r.type);
const isCampaignQuery = (r: CampaignCommand | SegmentRequest | CampaignQuery): r is CampaignQuery => (CAMPAIGN_QUERY_TYPES as readonly string[]).includes(r.type);

/** Commands from the gateway: pushes (`POST /v1/push`), campaign creation and sends, segment versions; and its segment and message reads. */
@KafkaController()
export class CampaignCommandsController {
  constructor(
    private readonly apps: AppRegistry,
    private readonly pushes: PushSender,
    private readonly runner: CampaignRunner,
    private readonly scheduler: CampaignScheduler,
    private readonly sends: CampaignSends,
    private readonly segments: SegmentsHandler,
  ) {}

  @MessagePattern('campaignCommands', { group: 'pushledger-campaign', dlq: 'campaignCommandsDlq' } satisfies KafkaHandlerOptions)
  async handle(@Payload() envelope: CommandEnvelope): Promise<CommandReply> {
    const command = envelope as unknown as CampaignCommand | SegmentRequest | CampaignQuery;
    const app = command.appId ? await this.apps.get(command.appId) : undefined;
    if (!app) return { commandId: command.commandId, ok: false, error: { code: 'not_found', message: 'app not found' } };
    try {
      if (isSegmentRequest(command)) return { commandId: command.commandId, ok: true, result: await this.segments.handle(command, app) };
      if (isCampaignQuery(command)) return await answerQuery(command.commandId, () => (command.type === 'GetMessage' ? this.runner.message(app.id, command.messageId) : this.runner.audienceStats(app.id, command.campaignId)));
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
        case 'CancelCampaignSend':
          return { commandId: command.commandId, ok: true, result: await this.sends.cancel(app.id, command.campaignId, command.messageId, command.deliveryFinished, new Date()) };
        default: {
          const _exhaustive: never = command;
          throw new PoisonMessageError('unknown_command', `unknown command type ${(_exhaustive as { type: string }).type}`);
        }
      }
    } catch (err) {
      if (err instanceof CampaignError || err instanceof DomainError) return { commandId: command.commandId, ok: false, error: { code: err.code, message: err.message } };
      if (err instanceof SegmentRulesError) return { commandId: command.commandId, ok: false, error: { code: 'validation_failed', message: err.message, details: err.issues.map((i) => ({ field: i.path, reason: i.reason })) } };
      throw err;
    }
  }
}
