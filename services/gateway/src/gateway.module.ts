import { Inject, Injectable, Module, OnApplicationShutdown, OnModuleInit, Type } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import type { PushledgerConfig } from '@pushledger/config';
import type { EventStore } from '@pushledger/event-store';
import { AppRegistry } from '@pushledger/apps';
import { DeviceFlows, StreamExecutor, UserFlows } from '@pushledger/lifecycle';
import mongoose from 'mongoose';
import { CampaignsStore, MessageOutcomesStore } from '@pushledger/messages';
import { CampaignsController } from './campaigns/campaigns.controller';
import { EVENT_STORE, MONGO, PlatformModule } from '@pushledger/platform';
import { MessagesController } from './messages/messages.controller';
import { AppsController } from './apps/apps.controller';
import { AppKeyGuard } from './auth/app-key.guard';
import { CustomerIoController } from './compat/customerio.controller';
import { MasivoController } from './compat/masivo.controller';
import { SegmentController } from './compat/segment.controller';
import { TwilioController } from './compat/twilio.controller';
import { DevicesController } from './devices/devices.controller';
import { IdempotencyStore } from './registry/idempotency.store';
import { RegistryClient } from './registry/registry.client';
import { UsersController } from './users/users.controller';
import { StatsController } from './stats/stats.controller';
import { EVENT_STORE as GATEWAY_EVENT_STORE } from './gateway.tokens';
import { ReadModels, SegmentStore } from '@pushledger/read-models';
import { SegmentsController } from './segments/segments.controller';
import { FreshReads } from './reads/fresh-reads';
import { WritePositionInterceptor, WritePositions } from './reads/write-positions';

@Injectable()
class AppRegistryLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(@Inject(AppRegistry) private readonly apps: AppRegistry) {}
  async onModuleInit() {
    await this.apps.start();
  }
  async onApplicationShutdown() {
    await this.apps.stop();
  }
}

export const GATEWAY_CONTROLLERS: Type<unknown>[] = [AppsController, DevicesController, UsersController, MessagesController, CampaignsController, SegmentController, TwilioController, MasivoController, CustomerIoController, StatsController, SegmentsController];

export function gatewayModule(config: PushledgerConfig): Type<unknown> {
  @Module({
    imports: [PlatformModule.forRoot({ service: 'gateway', config, dependencies: ['kafka', 'eventStore', 'mongo'] })],
    controllers: GATEWAY_CONTROLLERS,
    providers: [
      { provide: GATEWAY_EVENT_STORE, useExisting: EVENT_STORE },
      { provide: AppRegistry, useFactory: (store: EventStore) => new AppRegistry(store), inject: [EVENT_STORE] },
      AppRegistryLifecycle,
      { provide: StreamExecutor, useFactory: (store: EventStore) => new StreamExecutor(store), inject: [EVENT_STORE] },
      { provide: DeviceFlows, useFactory: (exec: StreamExecutor) => new DeviceFlows(exec), inject: [StreamExecutor] },
      { provide: UserFlows, useFactory: (exec: StreamExecutor) => new UserFlows(exec), inject: [StreamExecutor] },
      RegistryClient,
      IdempotencyStore,
      { provide: CampaignsStore, useFactory: (mongo: { connection: mongoose.Connection }) => new CampaignsStore(mongo.connection), inject: [MONGO] },
      { provide: MessageOutcomesStore, useFactory: (mongo: { connection: mongoose.Connection }) => new MessageOutcomesStore(mongo.connection), inject: [MONGO] },
      { provide: SegmentStore, useFactory: (store: EventStore) => new SegmentStore(store), inject: [EVENT_STORE] },
      { provide: ReadModels, useFactory: (mongo: { connection: mongoose.Connection }, store: EventStore) => new ReadModels(mongo.connection, { store }), inject: [MONGO, EVENT_STORE] },
      WritePositions,
      FreshReads,
      { provide: APP_GUARD, useClass: AppKeyGuard },
      { provide: APP_INTERCEPTOR, useClass: WritePositionInterceptor },
    ],
  })
  class GatewayModule {}
  return GatewayModule;
}
