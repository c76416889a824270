import { MessagePattern, Payload } from '@nestjs/microservices';
import { APP_ADMIN_COMMAND_TYPES, AppAdminCommand, REGISTRATION_COMMAND_TYPES, RegistrationCommand } from '@pushledger/contracts';
import { DomainError } from '@pushledger/domain';
import { CommandEnvelope, CommandReply, KafkaController, KafkaHandlerOptions, PoisonMessageError } from '@pushledger/kafka';
import { DeviceFlows } from '@pushledger/lifecycle';
import { AppCommandsHandler } from '../application/app-commands.handler';

const KNOWN_TYPES: readonly string[] = [...REGISTRATION_COMMAND_TYPES, ...APP_ADMIN_COMMAND_TYPES];

function isAppCommand(command: RegistrationCommand | AppAdminCommand): command is AppAdminCommand {
  return (APP_ADMIN_COMMAND_TYPES as readonly string[]).includes(command.type);
}

/** Commands from the gateway and the identity service: decide on the device streams (or an app stream), reply with the device (or app) view. */
@KafkaController()
export class RegistrationCommandsController {
  constructor(
    private readonly flows: DeviceFlows,
    private readonly apps: AppCommandsHandler,
  ) {}

  @MessagePattern('registrationCommands', { group: 'pushledger-registration', dlq: 'registrationCommandsDlq' } satisfies KafkaHandlerOptions)
  async handle(@Payload() envelope: CommandEnvelope): Promise<CommandReply> {
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
  }
}
