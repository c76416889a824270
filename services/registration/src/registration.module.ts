import { Module, Type } from '@nestjs/common';
import type { PushledgerConfig } from '@pushledger/config';
import type { EventStore } from '@pushledger/event-store';
import { DeviceFlows, StreamExecutor } from '@pushledger/lifecycle';
import { EVENT_STORE, PlatformModule } from '@pushledger/platform';
import { AppCommandsHandler } from './app-commands.handler';
import { RegistrationCommandsConsumer } from './registration-commands.consumer';
import { IngestConsumer } from './ingest.consumer';
import { StaleTokenJob } from './stale-token.job';

export function registrationModule(config: PushledgerConfig): Type<unknown> {
  @Module({
    imports: [PlatformModule.forRoot({ service: 'registration', config, dependencies: ['kafka', 'eventStore'] })],
    providers: [
      { provide: StreamExecutor, useFactory: (store: EventStore) => new StreamExecutor(store), inject: [EVENT_STORE] },
      { provide: DeviceFlows, useFactory: (exec: StreamExecutor) => new DeviceFlows(exec), inject: [StreamExecutor] },
      AppCommandsHandler,
      RegistrationCommandsConsumer,
      IngestConsumer,
      StaleTokenJob,
    ],
  })
  class RegistrationModule {}
  return RegistrationModule;
}
