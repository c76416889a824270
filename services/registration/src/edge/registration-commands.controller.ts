import { MessagePattern, Payload } from '@nestjs/microservices';
import { APP_ADMIN_COMMAND_TYPES, AppAdminCommand, AppCommandResult, REGISTRATION_COMMAND_TYPES, REGISTRATION_QUERY_TYPES, RegistrationCommand, RegistrationQuery, tokenHash } from '@pushledger/contracts';
import { DomainError } from '@pushledger/domain';
import { CommandEnvelope, CommandReply, KafkaController, KafkaHandlerOptions, PoisonMessageError } from '@pushledger/kafka';
import { answerQuery } from '@pushledger/platform';
import { DeviceFlows } from '../application/device-flows';
import { AppCommandsHandler } from '../application/app-commands.handler';
import { AppQueriesHandler } from '../application/app-queries.handler';
import { DeviceQueriesHandler } from '../application/device-queries.handler';

type Request = RegistrationCommand | AppAdminCommand | RegistrationQuery;

const KNOWN_TYPES: readonly string[] = [...REGISTRATION_COMMAND_TYPES, ...APP_ADMIN_COMMAND_TYPES, ...REGISTRATION_QUERY_TYPES];

const isAppCommand = (r: Request): r is AppAdminCommand => (APP_ADMIN_COMMAND_TYPES as readonly string[]).includes(r.type);
const isQuery = (r: Request): r is RegistrationQuery => (REGISTRATION_QUERY_TYPES as readonly string[]).includes(r.type);

/**
 * Commands from the gateway and the identity service: decide on the device streams (or an app stream),
 * reply with the device (or app) view. Queries from the gateway: answered from the same streams.
 */
@KafkaController()
export class RegistrationCommandsController {
  constructor(
    private readonly flows: DeviceFlows,
    private readonly apps: AppCommandsHandler,
    private readonly appReads: AppQueriesHandler,
    private readonly deviceReads: DeviceQueriesHandler,
  ) {}

  @MessagePattern('registrationCommands', { group: 'pushledger-registration', dlq: 'registrationCommandsDlq' } satisfies KafkaHandlerOptions)
  async handle(@Payload() envelope: CommandEnvelope): Promise<CommandReply> {
    const request = withTokenHash(envelope as unknown as Request);
    if (!KNOWN_TYPES.includes(request.type) || (!request.appId && request.type !== 'ListApps')) throw new PoisonMessageError('unknown_command', `unknown command type ${request.type}`);
    if (isQuery(request)) return answerQuery(request.commandId, () => this.query(request));
    try {
      if (isAppCommand(request)) {
        const { entry, position } = await this.apps.handle(request, new Date());
        return { commandId: request.commandId, ok: true, result: { app: entry } satisfies AppCommandResult, position: position.toString() };
      }
      const { view, created, position } = await this.flows.handleWithOutcome(request, new Date());
      return { commandId: request.commandId, ok: true, result: { view, created }, position: position.toString() };
    } catch (err) {
      if (err instanceof DomainError) return { commandId: request.commandId, ok: false, error: { code: err.code, message: err.message } };
      throw err;
    }
  }

  private query(query: RegistrationQuery): Promise<unknown> {
    switch (query.type) {
      case 'GetApp':
        return this.appReads.get(query);
      case 'ListApps':
        return Promise.resolve(this.appReads.list(query));
      default:
        return this.deviceReads.handle(query);
    }
  }
}

const BY_TOKEN_HASH: readonly string[] = ['RecordPushSent', 'RecordPushBounced', 'InvalidateToken'];

/** Delivery outcomes sent before they named tokens by hash still carry the token: hashed here, on arrival. */
function withTokenHash(request: Request): Request {
  if (!BY_TOKEN_HASH.includes(request.type) || 'tokenHash' in request) return request;
  const { token, ...rest } = request as unknown as { token?: unknown };
  if (typeof token !== 'string') throw new PoisonMessageError('invalid_command', `${request.type} needs tokenHash`);
  return { ...rest, tokenHash: tokenHash(token) } as unknown as Request;
}
