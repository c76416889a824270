import { Controller, DynamicModule, Get, Global, Header, Headers, Inject, Injectable, Module, OnApplicationShutdown, Res } from '@nestjs/common';
import type { Response } from 'express';
import mongoose from 'mongoose';
import type { Kafka } from 'kafkajs';
import type { PushledgerConfig } from '@pushledger/config';
import { commandSeals, createKafka, DeadLetters, KafkaBatchTransport } from '@pushledger/kafka';
import { JsonLogger } from '@pushledger/observability';
import type { EventStore } from '@pushledger/event-store';
import { createPrivateEventStore } from '@pushledger/privacy';
import { topicsFor } from '@pushledger/contracts';
import { CONFIG, EVENT_STORE, TOPICS, HEALTH_CHECKS, KAFKA, MONGO, SERVICE_NAME } from './tokens';
import { HealthCheck, kafkaCheck, mongoCheck, postgresCheck, publicHealth, runChecks } from './health';
import { bearerToken, sameSecret } from './secrets';
import { collectProcessMetrics, messagesHandled, metricsRegistry, watchKafkaHandlers } from './metrics';

export type Dependency = 'kafka' | 'postgres' | 'mongo' | 'eventStore';

@Controller()
class HealthController {
  constructor(
    @Inject(HEALTH_CHECKS) private readonly checks: Record<string, HealthCheck>,
    @Inject(SERVICE_NAME) private readonly service: string,
    @Inject(CONFIG) private readonly config: PushledgerConfig,
  ) {}

  /** Liveness and each dependency's state; latencies and error text only for the admin token. */
  @Get('health')
  async health(@Headers('authorization') authorization: string | undefined, @Res() res: Response) {
    const report = await runChecks(this.checks);
    const token = bearerToken(authorization);
    const admin = token !== undefined && this.config.adminToken !== undefined && sameSecret(token, this.config.adminToken);
    res.status(report.status === 'ok' ? 200 : 503).json({ service: this.service, ...(admin ? report : publicHealth(report)) });
  }

  @Get('metrics')
  @Header('Content-Type', metricsRegistry.contentType)
  async metrics() {
    return metricsRegistry.metrics();
  }
}

@Injectable()
class Connections implements OnApplicationShutdown {
  constructor(
    @Inject(MONGO) private readonly mongo: { connection?: mongoose.Connection },
    @Inject(EVENT_STORE) private readonly store: EventStore | null,
    @Inject(HEALTH_CHECKS) private readonly checks: Record<string, HealthCheck>,
  ) {}
  async onApplicationShutdown() {
    await Promise.all(Object.values(this.checks).map((c) => c.close?.().catch(() => undefined)));
    await this.mongo.connection?.close().catch(() => undefined);
    await this.store?.close().catch(() => undefined);
  }
}

@Global()
@Module({})
export class PlatformModule {
  static forRoot(opts: { service: string; config: PushledgerConfig; dependencies: Dependency[] }): DynamicModule {
    const { config, service, dependencies } = opts;
    collectProcessMetrics(service);
    const logger = new JsonLogger(service, config.logLevel);
    const kafka = createKafka(config, `pushledger-${service}`, logger);
    // Mongo connects lazily in the background so a slow read-model store does not block start-up;
    // health reports it down until it answers.
    const mongo: { connection?: mongoose.Connection } = {};
    if (dependencies.includes('mongo')) {
      mongo.connection = mongoose.createConnection(config.mongodbUri, { serverSelectionTimeoutMS: 10000, maxPoolSize: 10 });
      mongo.connection.on('error', (err) => logger.warn('mongo connection error', { error: (err as Error).message }));
    }
    const checks: Record<string, HealthCheck> = {};
    if (dependencies.includes('kafka')) checks.kafka = kafkaCheck(kafka);
    if ((dependencies.includes('postgres') || dependencies.includes('eventStore')) && config.eventStore.kind === 'postgres') checks.postgres = postgresCheck(config.eventStore.postgresUrl, `pushledger-${service}-health`);
    if (dependencies.includes('mongo')) checks.mongo = mongoCheck(() => mongo.connection);
    return {
      module: PlatformModule,
      controllers: [HealthController],
      providers: [
        { provide: CONFIG, useValue: config },
        { provide: SERVICE_NAME, useValue: service },
        { provide: TOPICS, useValue: topicsFor(config.kafka.topicSuffix) },
        { provide: KAFKA, useValue: kafka as Kafka },
        { provide: MONGO, useValue: mongo },
        { provide: HEALTH_CHECKS, useValue: checks },
        // Crypto-shredding around the adapter: personal data and tokens are sealed at rest (libs/privacy).
        { provide: EVENT_STORE, useFactory: () => (dependencies.includes('eventStore') ? createPrivateEventStore(config, { poolSize: 20 }) : null) },
        { provide: JsonLogger, useValue: logger },
        // The service's Kafka handlers run on it once main.ts connects it (app.connectMicroservice).
        {
          provide: KafkaBatchTransport,
          useFactory: () => {
            const transport = new KafkaBatchTransport({ kafka, topics: topicsFor(config.kafka.topicSuffix), suffix: config.kafka.topicSuffix, logger, seals: commandSeals(config), onOutcome: (topic, outcome) => messagesHandled.inc({ topic, outcome }) });
            const letters = new DeadLetters(kafka, config.kafka.topicSuffix);
            watchKafkaHandlers(transport, (topics) => letters.depths(topics));
            return transport;
          },
        },
        Connections,
      ],
      // HEALTH_CHECKS: a service adds the checks only it knows of (e.g. the gateway's app directory).
      exports: [CONFIG, TOPICS, SERVICE_NAME, KAFKA, MONGO, EVENT_STORE, HEALTH_CHECKS, JsonLogger, KafkaBatchTransport],
    };
  }
}
