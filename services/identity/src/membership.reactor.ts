import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import { DeviceEvent, groupFor, TopicMap } from '@pushledger/contracts';
import type { PushledgerConfig } from '@pushledger/config';
import type { EventStore } from '@pushledger/event-store';
import { AppRegistry } from '@pushledger/apps';
import { ConsumerRunner, InboundMessage, PoisonMessageError, createProducer } from '@pushledger/kafka';
import { UserFlows } from '@pushledger/lifecycle';
import { JsonLogger } from '@pushledger/observability';
import { CONFIG, EVENT_STORE, KAFKA, TOPICS } from '@pushledger/platform';
import { dispatchToRegistration } from './identity-commands.consumer';

interface LifecycleEnvelope {
  eventId: string;
  type: string;
  stream: string;
  streamRevision: string;
  data: unknown;
}

/**
 * Follows device facts on the lifecycle topic (keyed by stream, so in order per device) and keeps each
 * user's device list: link on Identified, unlink on LoggedOut, detach past maxDevicesPerUser.
 */
@Injectable()
export class MembershipReactor implements OnApplicationBootstrap, OnApplicationShutdown {
  private runner?: ConsumerRunner;
  private producer?: Producer;
  private apps!: AppRegistry;

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(TOPICS) private readonly topics: TopicMap,
    @Inject(CONFIG) private readonly config: PushledgerConfig,
    private readonly flows: UserFlows,
    private readonly logger: JsonLogger,
  ) {}

  async onApplicationBootstrap() {
    this.apps = new AppRegistry(this.store);
    await this.apps.start();
    this.producer = createProducer(this.kafka);
    await this.producer.connect();
    this.runner = new ConsumerRunner({
      kafka: this.kafka,
      groupId: groupFor('pushledger-identity-membership', this.config.kafka.topicSuffix),
      topics: [this.topics.deviceLifecycle],
      dlqTopic: this.topics.membershipDlq,
      logger: this.logger,
      partitionsConsumedConcurrently: 8,
      handle: (msg) => this.handle(msg),
    });
    await this.runner.start();
  }

  private async handle(msg: InboundMessage): Promise<void> {
    const type = msg.headers['event-type'];
    if (type !== 'Identified' && type !== 'LoggedOut') return;
    let envelope: LifecycleEnvelope;
    try {
      envelope = JSON.parse(msg.value?.toString('utf8') ?? '');
    } catch {
      throw new PoisonMessageError('invalid_json');
    }
    const event = { type: envelope.type, data: envelope.data } as DeviceEvent;
    const app = await this.apps.get(event.data.appId);
    if (!app) throw new PoisonMessageError('unknown_app', `app ${event.data.appId} not found`);
    const dispatch = await this.flows.followDeviceFact(event, envelope.eventId, Number(envelope.streamRevision) + 1, app.settings.maxDevicesPerUser, new Date());
    await dispatchToRegistration(this.producer!, this.topics.registrationCommands, dispatch);
  }

  async onApplicationShutdown() {
    await this.runner?.stop();
    await this.producer?.disconnect().catch(() => undefined);
    await this.apps?.stop();
  }
}
