import { Inject, Injectable, Module, OnApplicationShutdown, OnModuleInit, Type } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import mongoose from 'mongoose';
import { providerStandIns, type PushledgerConfig } from '@pushledger/config';
import type { TopicMap } from '@pushledger/contracts';
import type { EventStore } from '@pushledger/event-store';
import { AppRegistry } from '@pushledger/apps';
import { createProducer, ensureTopics } from '@pushledger/kafka';
import { StreamExecutor } from '@pushledger/lifecycle';
import { CampaignsStore, MessagesStore } from '@pushledger/messages';
import { EVENT_STORE, KAFKA, MONGO, PlatformModule, TOPICS } from '@pushledger/platform';
import { PrivacyEventStore, RecipientSeals } from '@pushledger/privacy';
import { ReadModels, SegmentStore } from '@pushledger/read-models';
import { AUDIENCE_SOURCE } from './application/audience';
import { CampaignRunner } from './application/campaign.runner';
import { CAMPAIGN_PRODUCER as PRODUCER } from './application/campaign-sends';
import { CampaignScheduler } from './application/campaign.scheduler';
import { CampaignSends } from './application/campaign-sends';
import { DeliveryRequests } from './application/delivery-requests';
import { PushSender } from './application/push.sender';
import { SegmentsHandler } from './application/segments.handler';
import { TriggeredSends } from './application/triggered-sends';
import { CampaignCommandsController } from './edge/campaign-commands.controller';
import { TriggerController } from './edge/trigger.controller';
import { ReadModelsAudience } from './infrastructure/read-models.audience';

@Injectable()
class CampaignLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    private readonly apps: AppRegistry,
    @Inject(PRODUCER) private readonly producer: Producer,
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(TOPICS) private readonly topics: TopicMap,
    private readonly campaigns: CampaignsStore,
    private readonly messageRecords: MessagesStore,
  ) {}
  async onModuleInit() {
    await ensureTopics(this.kafka, Object.values(this.topics), 8);
    await this.campaigns.init();
    await this.messageRecords.init();
    await this.producer.connect();
    await this.apps.start();
  }
  async onApplicationShutdown() {
    await this.apps.stop();
    await this.producer.disconnect().catch(() => undefined);
  }
}

export function campaignModule(config: PushledgerConfig): Type<unknown> {
  @Module({
    imports: [PlatformModule.forRoot({ service: 'campaign', config, dependencies: ['kafka', 'eventStore', 'mongo'] })],
    controllers: [CampaignCommandsController, TriggerController],
    providers: [
      { provide: AppRegistry, useFactory: (store: EventStore) => new AppRegistry(store), inject: [EVENT_STORE] },
      { provide: StreamExecutor, useFactory: (store: EventStore) => new StreamExecutor(store), inject: [EVENT_STORE] },
      { provide: PRODUCER, useFactory: (kafka: Kafka) => createProducer(kafka), inject: [KAFKA] },
      { provide: MessagesStore, useFactory: (mongo: { connection: mongoose.Connection }) => new MessagesStore(mongo.connection), inject: [MONGO] },
      {
        provide: DeliveryRequests,
        useFactory: (store: PrivacyEventStore, producer: Producer, topics: TopicMap) => new DeliveryRequests(new RecipientSeals(store.keys), producer, topics),
        inject: [EVENT_STORE, PRODUCER, TOPICS],
      },
      {
        provide: PushSender,
        useFactory: (exec: StreamExecutor, requests: DeliveryRequests, records: MessagesStore) => new PushSender(exec, requests, records, providerStandIns(config)),
        inject: [StreamExecutor, DeliveryRequests, MessagesStore],
      },
      { provide: CampaignsStore, useFactory: (mongo: { connection: mongoose.Connection }) => new CampaignsStore(mongo.connection), inject: [MONGO] },
      { provide: ReadModels, useFactory: (mongo: { connection: mongoose.Connection }) => new ReadModels(mongo.connection), inject: [MONGO] },
      { provide: SegmentStore, useFactory: (store: EventStore) => new SegmentStore(store), inject: [EVENT_STORE] },
      { provide: AUDIENCE_SOURCE, useFactory: (models: ReadModels, segments: SegmentStore) => new ReadModelsAudience(models, segments, providerStandIns(config)), inject: [ReadModels, SegmentStore] },
      SegmentsHandler,
      CampaignSends,
      CampaignRunner,
      CampaignLifecycle,
      TriggeredSends,
      CampaignScheduler,
    ],
  })
  class CampaignModule {}
  return CampaignModule;
}
