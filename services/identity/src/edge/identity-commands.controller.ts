import { MessagePattern, Payload } from '@nestjs/microservices';
import { IDENTITY_COMMAND_TYPES, IdentityCommand } from '@pushledger/contracts';
import { DomainError } from '@pushledger/domain';
import { CommandEnvelope, CommandReply, KafkaController, KafkaHandlerOptions, PoisonMessageError } from '@pushledger/kafka';
import { UserFlows } from '@pushledger/lifecycle';
import { RegistrationDispatcher } from '../infrastructure/registration-dispatcher';

/** User commands (traits, unsubscribe, erase) on the user streams. */
@KafkaController()
export class IdentityCommandsController {
  constructor(
    private readonly flows: UserFlows,
    private readonly registration: RegistrationDispatcher,
  ) {}

  @MessagePattern('identityCommands', { group: 'pushledger-identity', dlq: 'identityCommandsDlq' } satisfies KafkaHandlerOptions)
  async handle(@Payload() envelope: CommandEnvelope): Promise<CommandReply> {
    const command = envelope as unknown as IdentityCommand;
    if (!(IDENTITY_COMMAND_TYPES as readonly string[]).includes(command.type) || !command.appId || !command.userId) throw new PoisonMessageError('unknown_command', `unknown command type ${command.type}`);
    try {
      const { view, dispatch, position } = await this.flows.handle(command, new Date());
      await this.registration.dispatch(dispatch);
      return { commandId: command.commandId, ok: true, result: view, position: position.toString() };
    } catch (err) {
      if (err instanceof DomainError) return { commandId: command.commandId, ok: false, error: { code: err.code, message: err.message } };
      throw err;
    }
  }
}
