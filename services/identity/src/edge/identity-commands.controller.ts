import { MessagePattern, Payload } from '@nestjs/microservices';
import { IDENTITY_COMMAND_TYPES, IDENTITY_QUERY_TYPES, IdentityCommand, IdentityQuery } from '@pushledger/contracts';
import { DomainError } from '@pushledger/domain';
import { CommandEnvelope, CommandReply, KafkaController, KafkaHandlerOptions, PoisonMessageError } from '@pushledger/kafka';
import { answerQuery } from '@pushledger/platform';
import { UserFlows } from '../application/user-flows';
import { UserQueriesHandler } from '../application/user-queries.handler';
import { RegistrationDispatcher } from '../infrastructure/registration-dispatcher';

const KNOWN_TYPES: readonly string[] = [...IDENTITY_COMMAND_TYPES, ...IDENTITY_QUERY_TYPES];
const isQuery = (r: IdentityCommand | IdentityQuery): r is IdentityQuery => (IDENTITY_QUERY_TYPES as readonly string[]).includes(r.type);

/** User commands (traits, unsubscribe, erase) on the user streams, and the gateway's user queries on the same streams. */
@KafkaController()
export class IdentityCommandsController {
  constructor(
    private readonly flows: UserFlows,
    private readonly queries: UserQueriesHandler,
    private readonly registration: RegistrationDispatcher,
  ) {}

  @MessagePattern('identityCommands', { group: 'pushledger-identity', dlq: 'identityCommandsDlq' } satisfies KafkaHandlerOptions)
  async handle(@Payload() envelope: CommandEnvelope): Promise<CommandReply> {
    const request = envelope as unknown as IdentityCommand | IdentityQuery;
    if (!KNOWN_TYPES.includes(request.type) || !request.appId || !request.userId) throw new PoisonMessageError('unknown_command', `unknown command type ${request.type}`);
    if (isQuery(request)) return answerQuery(request.commandId, () => this.queries.handle(request));
    try {
      const { view, dispatch, position } = await this.flows.handle(request, new Date());
      await this.registration.dispatch(dispatch);
      return { commandId: request.commandId, ok: true, result: view, position: position.toString() };
    } catch (err) {
      if (err instanceof DomainError) return { commandId: request.commandId, ok: false, error: { code: err.code, message: err.message } };
      throw err;
    }
  }
}
