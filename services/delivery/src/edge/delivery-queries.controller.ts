import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { DELIVERY_QUERY_TYPES, DeliveryQuery, ReceiptV1 } from '@pushledger/contracts';
import { CommandEnvelope, CommandReply, KafkaController, KafkaHandlerOptions, PoisonMessageError } from '@pushledger/kafka';
import { DeliveryReads } from '../application/delivery-reads';

const KNOWN: readonly string[] = DELIVERY_QUERY_TYPES;

/** The gateway's reads of the ledger (request/reply), and app receipts into it. */
@KafkaController()
export class DeliveryQueriesController {
  constructor(private readonly reads: DeliveryReads) {}

  @MessagePattern('deliveryCommands', { group: 'pushledger-delivery-queries', dlq: 'deliveryCommandsDlq' } satisfies KafkaHandlerOptions)
  async handle(@Payload() envelope: CommandEnvelope): Promise<CommandReply> {
    const query = envelope as unknown as DeliveryQuery;
    if (!KNOWN.includes(query.type) || !query.appId) throw new PoisonMessageError('unknown_command', `unknown query type ${query.type}`);
    return { commandId: query.commandId, ok: true, result: await this.reads.handle(query) };
  }

  @EventPattern('receipts', { group: 'pushledger-delivery-receipts', dlq: 'receiptsDlq' } satisfies KafkaHandlerOptions)
  async onReceipt(@Payload() receipt: ReceiptV1): Promise<void> {
    if (!receipt?.appId || !receipt.messageId || !receipt.deviceId || (receipt.kind !== 'delivered' && receipt.kind !== 'opened') || Number.isNaN(Date.parse(receipt.at))) {
      throw new PoisonMessageError('invalid_receipt', 'appId, messageId, deviceId, kind and at are required');
    }
    await this.reads.receipt(receipt);
  }
}
