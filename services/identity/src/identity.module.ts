import { Module, Type } from '@nestjs/common';
import type { PushledgerConfig } from '@pushledger/config';
import type { EventStore } from '@pushledger/event-store';
import { StreamExecutor } from '@pushledger/lifecycle';
import { UserFlows } from './application/user-flows';
import { EVENT_STORE, PlatformModule } from '@pushledger/platform';
import { UserQueriesHandler } from './application/user-queries.handler';
import { IdentityCommandsController } from './edge/identity-commands.controller';
import { RegistrationDispatcher } from './infrastructure/registration-dispatcher';

export function identityModule(config: PushledgerConfig): Type<unknown> {
  @Module({
    imports: [PlatformModule.forRoot({ service: 'identity', config, dependencies: ['kafka', 'eventStore'] })],
    controllers: [IdentityCommandsController],
    providers: [
      { provide: StreamExecutor, useFactory: (store: EventStore) => new StreamExecutor(store), inject: [EVENT_STORE] },
      { provide: UserFlows, useFactory: (exec: StreamExecutor) => new UserFlows(exec), inject: [StreamExecutor] },
      UserQueriesHandler,
      RegistrationDispatcher,
    ],
  })
  class IdentityModule {}
  return IdentityModule;
}
