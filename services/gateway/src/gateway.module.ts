import { Module, Type } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import type { PushledgerConfig } from '@pushledger/config';
import mongoose from 'mongoose';
import { CampaignsStore } from '@pushledger/messages';
import { MONGO, PlatformModule } from '@pushledger/platform';
import { ReadModels } from '@pushledger/read-models';
import { FreshReads } from './application/fresh-reads';
import { UserReads } from './application/user-reads';
import { WritePositions } from './application/write-positions';
import { AppsController } from './edge/apps.controller';
import { AppKeyGuard } from './edge/auth/app-key.guard';
import { CampaignsController } from './edge/campaigns.controller';
import { ConsoleController } from './edge/console.controller';
import { WebhooksController } from './edge/webhooks.controller';
import { CustomerIoController } from './edge/compat/customerio.controller';
import { MasivoController } from './edge/compat/masivo.controller';
import { SegmentController } from './edge/compat/segment.controller';
import { TwilioController } from './edge/compat/twilio.controller';
import { DevicesController } from './edge/devices.controller';
import { MeController } from './edge/me.controller';
import { MessagesController } from './edge/messages.controller';
import { SegmentsController } from './edge/segments.controller';
import { StatsController } from './edge/stats.controller';
import { UsersController } from './edge/users.controller';
import { WritePositionInterceptor } from './edge/write-position.interceptor';
import { AppDirectory } from './infrastructure/app-directory';
import { IdempotencyStore } from './infrastructure/idempotency.store';
import { OwnerClient } from './infrastructure/owner.client';
import { UserKeys } from './infrastructure/user-keys';

export const GATEWAY_CONTROLLERS: Type<unknown>[] = [AppsController, DevicesController, UsersController, MessagesController, CampaignsController, SegmentController, TwilioController, MasivoController, CustomerIoController, StatsController, SegmentsController, WebhooksController, MeController, ConsoleController];

type Mongo = { connection: mongoose.Connection };

/**
 * The gateway authenticates, validates, sends commands and queries to the streams' owners and reads the
 * read models: no event store, no decider (lint keeps it that way, see eslint.config.mjs).
 */
export function gatewayModule(config: PushledgerConfig): Type<unknown> {
  @Module({
    imports: [PlatformModule.forRoot({ service: 'gateway', config, dependencies: ['kafka', 'mongo'] })],
    controllers: GATEWAY_CONTROLLERS,
    providers: [
      WritePositions,
      OwnerClient,
      AppDirectory,
      UserKeys,
      IdempotencyStore,
      { provide: CampaignsStore, useFactory: (mongo: Mongo) => new CampaignsStore(mongo.connection), inject: [MONGO] },
      // User documents are keyed by a pseudonym only the owners can compute: the identity service names it (UserKeys).
      { provide: ReadModels, useFactory: (mongo: Mongo, keys: UserKeys) => new ReadModels(mongo.connection, { userKey: (appId, userId) => keys.of(appId, userId) }), inject: [MONGO, UserKeys] },
      FreshReads,
      UserReads,
      { provide: APP_GUARD, useClass: AppKeyGuard },
      { provide: APP_INTERCEPTOR, useClass: WritePositionInterceptor },
    ],
  })
  class GatewayModule {}
  return GatewayModule;
}
