import { MessagePattern, Payload } from '@nestjs/microservices';
import { DELIVERY_COMMAND_TYPES, DeliveryCommand, ResumeSendsResult } from '@pushledger/contracts';
import { CommandEnvelope, CommandReply, KafkaController, KafkaHandlerOptions, PoisonMessageError } from '@pushledger/kafka';
import { JsonLogger } from '@pushledger/observability';
import { DeliveryLedger } from '../infrastructure/delivery-ledger';

/** Commands from the gateway about an app's sends: ResumeSends lifts a credentials pause. */
@KafkaController()
export class DeliveryCommandsController {
  constructor(
    private readonly ledger: DeliveryLedger,
    private readonly logger: JsonLogger,
  ) {}

  @MessagePattern('deliveryCommands', { group: 'pushledger-delivery-commands', dlq: 'deliveryCommandsDlq' } satisfies KafkaHandlerOptions)
  async handle(@Payload() envelope: CommandEnvelope): Promise<CommandReply> {
    const command = envelope as unknown as DeliveryCommand;
    if (!(DELIVERY_COMMAND_TYPES as readonly string[]).includes(command.type) || !command.appId) throw new PoisonMessageError('unknown_command', `unknown command type ${command.type}`);
    const resumed = await this.ledger.resume(command.appId);
    if (resumed) this.logger.log('app sends resumed', { appId: command.appId });
    return { commandId: command.commandId, ok: true, result: { resumed } satisfies ResumeSendsResult };
  }
}
