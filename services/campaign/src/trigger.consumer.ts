import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type { PushledgerConfig } from '@pushledger/config';
import { CampaignTriggerV1, groupFor, PushTarget, TopicMap } from '@pushledger/contracts';
import { AppRegistry } from '@pushledger/apps';
import { ConsumerRunner, InboundMessage } from '@pushledger/kafka';
import { deterministicUuid } from '@pushledger/lifecycle';
import { CampaignsStore } from '@pushledger/messages';
import { JsonLogger } from '@pushledger/observability';
import { CONFIG, KAFKA, TOPICS } from '@pushledger/platform';
import { CampaignRunner } from './campaign.runner';

interface TrackMessage {
  type?: string;
  event?: string;
  userId?: string;
  anonymousId?: string;
  messageId?: string;
  properties?: Record<string, unknown>;
  writeKey?: string;
}

/** Whom a triggered campaign reaches for one event, or null when the event does not qualify. */
export function triggerTarget(trigger: CampaignTriggerV1, msg: TrackMessage): PushTarget | null {
  const props = msg.properties ?? {};
  for (const [k, v] of Object.entries(trigger.where)) if (props[k] !== v) return null;
  switch (trigger.to.kind) {
    case 'user':
      return msg.userId ? { userId: msg.userId } : null;
    case 'token': {
      const token = props[trigger.to.property];
      return typeof token === 'string' && token ? { token } : null;
    }
    case 'device': {
      const deviceId = props[trigger.to.property];
      return typeof deviceId === 'string' && deviceId ? { deviceId } : null;
    }
  }
}

/**
 * Event-triggered campaigns: every `track` event on the ingest topic is matched against the app's active
 * triggered campaigns. The message id derives from (campaign, event messageId), so a redelivered event
 * sends nothing new. Messages the registry cannot use are not this consumer's to dead-letter: it skips them.
 */
@Injectable()
export class TriggerConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private runner?: ConsumerRunner;

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(TOPICS) private readonly topics: TopicMap,
    @Inject(CONFIG) private readonly config: PushledgerConfig,
    private readonly apps: AppRegistry,
    private readonly campaigns: CampaignsStore,
    private readonly campaignRunner: CampaignRunner,
    private readonly logger: JsonLogger,
  ) {}

  async onApplicationBootstrap() {
    this.runner = new ConsumerRunner({
      kafka: this.kafka,
      groupId: groupFor('pushledger-campaign-triggers', this.config.kafka.topicSuffix),
      topics: [this.topics.ingest],
      dlqTopic: `${this.topics.ingest}.campaign.dlq`,
      logger: this.logger,
      partitionsConsumedConcurrently: 8,
      handle: (msg) => this.handle(msg),
    });
    await this.runner.start();
  }

  private async handle(msg: InboundMessage): Promise<void> {
    let body: TrackMessage;
    try {
      body = JSON.parse(msg.value?.toString('utf8') ?? '');
    } catch {
      return;
    }
    if (!body || body.type !== 'track' || typeof body.event !== 'string') return;
    const app = typeof body.writeKey === 'string' ? this.apps.findByKey(body.writeKey)?.app : msg.headers['app-id'] ? await this.apps.get(msg.headers['app-id']) : undefined;
    if (!app) return;
    for (const campaign of await this.campaigns.triggered(app.id, body.event)) {
      const to = triggerTarget(campaign.trigger!, body);
      if (!to) continue;
      const eventId = body.messageId ?? `${msg.topic}/${msg.partition}/${msg.offset}`;
      const messageId = deterministicUuid(`trigger:${app.id}:${campaign.id}:${eventId}`);
      await this.campaignRunner.sendTo(app, campaign, messageId, to, { event: { name: body.event, properties: body.properties ?? {} } });
    }
  }

  async onApplicationShutdown() {
    await this.runner?.stop();
  }
}
