import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { DeliveryCommand, DeliveryQuery, ReceiptV1, ResumeSendsResult, WebhookListResult } from '@pushledger/contracts';
import { CommandEnvelope, CommandReply, KafkaController, KafkaHandlerOptions, PoisonMessageError } from '@pushledger/kafka';
import { JsonLogger } from '@pushledger/observability';
import { answerQuery } from '@pushledger/platform';
import { DeliveryReads } from '../application/delivery-reads';
import { Webhooks } from '../application/webhooks';
import { DeliveryLedger } from '../infrastructure/delivery-ledger';

/**
 * What the gateway asks of delivery (request/reply on one topic): ResumeSends lifts a credentials pause;
 * CancelMessage (from the campaign service, no reply) stops a cancelled send's pairs not yet sent;
 * webhooks are created, listed and deleted; the queries read outcomes and counters from the ledger. App
 * receipts go into the ledger too.
 */
@KafkaController()
export class DeliveryCommandsController {
  constructor(
    private readonly ledger: DeliveryLedger,
    private readonly reads: DeliveryReads,
    private readonly webhooks: Webhooks,
    private readonly logger: JsonLogger,
  ) {}

  @MessagePattern('deliveryCommands', { group: 'pushledger-delivery-commands', dlq: 'deliveryCommandsDlq' } satisfies KafkaHandlerOptions)
  async handle(@Payload() envelope: CommandEnvelope): Promise<CommandReply> {
    const request = envelope as unknown as DeliveryCommand | DeliveryQuery;
    if (!request.appId) throw new PoisonMessageError('unknown_command', 'appId is required');
    const ok = (result: unknown): CommandReply => ({ commandId: request.commandId, ok: true, result });
    switch (request.type) {
      case 'ResumeSends': {
        const resumed = await this.ledger.resume(request.appId);
        if (resumed) this.logger.log('app sends resumed', { appId: request.appId });
        return ok({ resumed } satisfies ResumeSendsResult);
      }
      case 'CancelMessage':
        if (!request.messageId) throw new PoisonMessageError('invalid_command', 'messageId is required');
        await this.ledger.cancel(request.appId, request.messageId);
        this.logger.log('message cancelled: its pairs not yet sent are skipped', { appId: request.appId, messageId: request.messageId });
        return ok({ cancelled: true });
      case 'CreateWebhook':
        return ok(await this.webhooks.create(request));
      case 'DeleteWebhook':
        if (await this.webhooks.delete(request.appId, request.webhookId)) return ok({ deleted: true });
        return { commandId: request.commandId, ok: false, error: { code: 'not_found', message: 'webhook not found' } };
      case 'ListWebhooks':
        return answerQuery(request.commandId, async () => {
          const { items, next } = await this.webhooks.list(request.appId, request.page);
          return { webhooks: items, next } satisfies WebhookListResult;
        });
      case 'GetMessageOutcomes':
      case 'GetMessageCounters':
      case 'GetCampaignCounters':
      case 'GetOutcome':
      case 'GetSendsPause':
      case 'GetDailyPushStats':
        return answerQuery(request.commandId, () => this.reads.handle(request));
      default: {
        const unknown: never = request;
        throw new PoisonMessageError('unknown_command', `unknown command type ${(unknown as { type: string }).type}`);
      }
    }
  }

  @EventPattern('receipts', { group: 'pushledger-delivery-receipts', dlq: 'receiptsDlq' } satisfies KafkaHandlerOptions)
  async onReceipt(@Payload() receipt: ReceiptV1): Promise<void> {
    if (!receipt?.appId || !receipt.messageId || !receipt.deviceId || (receipt.kind !== 'delivered' && receipt.kind !== 'opened') || Number.isNaN(Date.parse(receipt.at))) {
      throw new PoisonMessageError('invalid_receipt', 'appId, messageId, deviceId, kind and at are required');
    }
    await this.reads.receipt(receipt);
  }
}
