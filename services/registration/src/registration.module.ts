import { Inject, Module, OnApplicationShutdown, Type } from '@nestjs/common';
import { AppRegistry } from '@pushledger/apps';
import type { PushledgerConfig } from '@pushledger/config';
import { DEFAULT_APP_SETTINGS } from '@pushledger/contracts';
import type { EventStore } from '@pushledger/event-store';
import { StreamExecutor } from '@pushledger/lifecycle';
import { DeviceFlows } from './application/device-flows';
import { EVENT_STORE, PlatformModule } from '@pushledger/platform';
import { APP_CHANGES, AppCommandsHandler } from './application/app-commands.handler';
import { AppQueriesHandler } from './application/app-queries.handler';
import { DeviceQueriesHandler } from './application/device-queries.handler';
import { DeviceStatsKeeper } from './application/device-stats.keeper';
import { SegmentIngestHandler } from './application/segment-ingest.handler';
import { StaleTokenJob } from './application/stale-token.job';
import { IngestController } from './edge/ingest.controller';
import { RegistrationCommandsController } from './edge/registration-commands.controller';
import { AppChangesPublisher } from './infrastructure/app-changes.publisher';

export function registrationModule(config: PushledgerConfig): Type<unknown> {
  @Module({
    imports: [PlatformModule.forRoot({ service: 'registration', config, dependencies: ['kafka', 'eventStore'] })],
    controllers: [RegistrationCommandsController, IngestController],
    providers: [
      { provide: StreamExecutor, useFactory: (store: EventStore) => new StreamExecutor(store), inject: [EVENT_STORE] },
      {
        provide: AppRegistry,
        useFactory: async (store: EventStore) => {
          const apps = new AppRegistry(store);
          await apps.start();
          return apps;
        },
        inject: [EVENT_STORE],
      },
      {
        provide: DeviceFlows,
        useFactory: (exec: StreamExecutor, apps: AppRegistry) =>
          new DeviceFlows(exec, { maxDevicesPerUser: async (appId) => (await apps.get(appId))?.settings.maxDevicesPerUser ?? DEFAULT_APP_SETTINGS.maxDevicesPerUser }),
        inject: [StreamExecutor, AppRegistry],
      },
      AppChangesPublisher,
      { provide: APP_CHANGES, useExisting: AppChangesPublisher },
      AppCommandsHandler,
      AppQueriesHandler,
      DeviceQueriesHandler,
      DeviceStatsKeeper,
      SegmentIngestHandler,
      StaleTokenJob,
    ],
  })
  class RegistrationModule implements OnApplicationShutdown {
    constructor(@Inject(AppRegistry) private readonly apps: AppRegistry) {}
    async onApplicationShutdown() {
      await this.apps.stop();
    }
  }
  return RegistrationModule;
}
