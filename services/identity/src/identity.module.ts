import { Module, Type } from '@nestjs/common';
import type { PushledgerConfig } from '@pushledger/config';
import type { EventStore } from '@pushledger/event-store';
import { StreamExecutor, UserFlows } from '@pushledger/lifecycle';
import { EVENT_STORE, PlatformModule } from '@pushledger/platform';
import { IdentityCommandsConsumer } from './identity-commands.consumer';

export function identityModule(config: PushledgerConfig): Type<unknown> {
  @Module({
    imports: [PlatformModule.forRoot({ service: 'identity', config, dependencies: ['kafka', 'eventStore'] })],
    providers: [
      { provide: StreamExecutor, useFactory: (store: EventStore) => new StreamExecutor(store), inject: [EVENT_STORE] },
      { provide: UserFlows, useFactory: (exec: StreamExecutor) => new UserFlows(exec), inject: [StreamExecutor] },
      IdentityCommandsConsumer,
    ],
  })
  class IdentityModule {}
  return IdentityModule;
}
