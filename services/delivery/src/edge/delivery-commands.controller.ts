import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { DELIVERY_COMMAND_TYPES, DELIVERY_QUERY_TYPES, DeliveryCommand, DeliveryQuery, ReceiptV1, ResumeSendsResult } from '@pushledger/contracts';
import { CommandEnvelope, CommandReply, KafkaController, KafkaHandlerOptions, PoisonMessageError } from '@pushledger/kafka';
import { JsonLogger } from '@pushledger/observability';
import { answerQuery } from '@pushledger/platform';
import { DeliveryReads } from '../application/delivery-reads';
import { DeliveryLedger } from '../infrastructure/delivery-ledger';

const COMMANDS: readonly string[] = DELIVERY_COMMAND_TYPES;
const QUERIES: readonly string[] = DELIVERY_QUERY_TYPES;

/**
 * What the gateway asks of delivery (request/reply on one topic): ResumeSends lifts a credentials pause;
 * the queries read outcomes and counters from the ledger. App receipts go into the ledger too.
 */
@KafkaController()
export class DeliveryCommandsController {
  constructor(
    private readonly ledger: DeliveryLedger,
    private readonly reads: DeliveryReads,
    private readonly logger: JsonLogger,
  ) {}

  @MessagePattern('deliveryCommands', { group: 'pushledger-delivery-commands', dlq: 'deliveryCommandsDlq' } satisfies KafkaHandlerOptions)
  async handle(@Payload() envelope: CommandEnvelope): Promise<CommandReply> {
    const request = envelope as unknown as DeliveryCommand | DeliveryQuery;
    if (!request.appId) throw new PoisonMessageError('unknown_command', 'appId is required');
    if (COMMANDS.includes(request.type)) {
      const resumed = await this.ledger.resume(request.appId);
      if (resumed) this.logger.log('app sends resumed', { appId: request.appId });
      return { commandId: request.commandId, ok: true, result: { resumed } satisfies ResumeSendsResult };
    }
    if (QUERIES.includes(request.type)) return answerQuery(request.commandId, () => this.reads.handle(request as DeliveryQuery));
    throw new PoisonMessageError('unknown_command', `unknown command type ${request.type}`);
  }

  @EventPattern('receipts', { group: 'pushledger-delivery-receipts', dlq: 'receiptsDlq' } satisfies KafkaHandlerOptions)
  async onReceipt(@Payload() receipt: ReceiptV1): Promise<void> {
    if (!receipt?.appId || !receipt.messageId || !receipt.deviceId || (receipt.kind !== 'delivered' && receipt.kind !== 'opened') || Number.isNaN(Date.parse(receipt.at))) {
      throw new PoisonMessageError('invalid_receipt', 'appId, messageId, deviceId, kind and at are required');
    }
    await this.reads.receipt(receipt);
  }
}
