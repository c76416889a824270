import { Inject, Injectable, Module, OnApplicationShutdown, Type } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import { Pool } from 'pg';
import { AppRegistry } from '@pushledger/apps';
import type { PushledgerConfig } from '@pushledger/config';
import type { TopicMap } from '@pushledger/contracts';
import { createPgPool, type EventStore } from '@pushledger/event-store';
import { createProducer } from '@pushledger/kafka';
import { JsonLogger } from '@pushledger/observability';
import { PrivacyEventStore, RecipientSeals, SealedFacts } from '@pushledger/privacy';
import { CONFIG, EVENT_STORE, KAFKA, PlatformModule, TOPICS } from '@pushledger/platform';
import { DeliveryHandler } from './application/delivery.handler';
import { DeliveryReads } from './application/delivery-reads';
import { DeliveryCommandsController } from './edge/delivery-commands.controller';
import { DeliveryRequestsController } from './edge/delivery-requests.controller';
import { WebhookFeedsController } from './edge/webhook-feeds.controller';
import { Webhooks } from './application/webhooks';
import { SharedQuota } from './infrastructure/shared-quota';
import { WebhookStore } from './infrastructure/webhook-store';
import { DeliveryLedger } from './infrastructure/delivery-ledger';
import { ApnsSenders } from './infrastructure/apns-senders';
import { FcmSenders } from './infrastructure/fcm-senders';
import { ProviderSenders } from './infrastructure/push-senders';
import { WebpushSenders } from './infrastructure/webpush-senders';

const PRODUCER = Symbol('DELIVERY_PRODUCER');
const LEDGER_POOL_SIZE = 10;

@Injectable()
class DeliveryLifecycle implements OnApplicationShutdown {
  constructor(
    private readonly apps: AppRegistry,
    private readonly pool: Pool,
    private readonly senders: ProviderSenders,
    @Inject(PRODUCER) private readonly producer: Producer,
  ) {}
  async onApplicationShutdown() {
    await this.producer.disconnect().catch(() => undefined);
    await this.senders.close();
    await this.apps.stop();
    await this.pool.end().catch(() => undefined);
  }
}

export function deliveryModule(config: PushledgerConfig): Type<unknown> {
  @Module({
    imports: [PlatformModule.forRoot({ service: 'delivery', config, dependencies: ['kafka', 'postgres', 'eventStore'] })],
    controllers: [DeliveryRequestsController, DeliveryCommandsController, WebhookFeedsController],
    providers: [
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
        provide: Pool,
        useFactory: (cfg: PushledgerConfig) => {
          return createPgPool({ connectionString: cfg.eventStore.postgresUrl, max: LEDGER_POOL_SIZE });
        },
        inject: [CONFIG],
      },
      {
        provide: DeliveryLedger,
        useFactory: async (pool: Pool) => {
          const ledger = new DeliveryLedger(pool);
          await ledger.init();
          return ledger;
        },
        inject: [Pool],
      },
      {
        provide: PRODUCER,
        useFactory: async (kafka: Kafka) => {
          const producer = createProducer(kafka);
          await producer.connect();
          return producer;
        },
        inject: [KAFKA],
      },
      { provide: ProviderSenders, useFactory: (cfg: PushledgerConfig) => new ProviderSenders(new FcmSenders(cfg), new ApnsSenders(cfg), new WebpushSenders(cfg)), inject: [CONFIG] },
      {
        provide: DeliveryHandler,
        useFactory: (cfg: PushledgerConfig, topics: TopicMap, ledger: DeliveryLedger, senders: ProviderSenders, producer: Producer, pool: Pool, logger: JsonLogger, store: PrivacyEventStore) =>
          new DeliveryHandler(cfg, topics, ledger, senders, producer, new SharedQuota(pool), logger, new RecipientSeals(store.keys)),
        inject: [CONFIG, TOPICS, DeliveryLedger, ProviderSenders, PRODUCER, Pool, JsonLogger, EVENT_STORE],
      },
      { provide: DeliveryReads, useFactory: (ledger: DeliveryLedger) => new DeliveryReads(ledger), inject: [DeliveryLedger] },
      { provide: WebhookStore, useFactory: (pool: Pool) => new WebhookStore(pool), inject: [Pool] },
      { provide: SealedFacts, useFactory: (store: PrivacyEventStore) => store.facts, inject: [EVENT_STORE] },
      Webhooks,
      DeliveryLifecycle,
    ],
  })
  class DeliveryModule {}
  return DeliveryModule;
}
