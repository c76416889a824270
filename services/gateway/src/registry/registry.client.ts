import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import { AppAdminCommand, CampaignCommand, IdentityCommand, RegistrationCommand, SendPushCommand, SendPushResultV1, TopicMap } from '@pushledger/contracts';
import type { AppView, DeviceView } from '@pushledger/domain';
import { CommandClient, CommandEnvelope, CommandReply, CommandTimeoutError, ensureTopics } from '@pushledger/kafka';
import type { UserView } from '@pushledger/lifecycle';
import { JsonLogger } from '@pushledger/observability';
import { KAFKA, TOPICS } from '@pushledger/platform';
import { ApiError } from '../http/api-error';
import { WritePositions } from '../reads/write-positions';

const DOMAIN_STATUS: Record<string, number> = { token_invalidated: 409, user_erased: 409, device_not_found: 404, not_found: 404, app_already_exists: 409, invalid_command: 422, invalid_campaign_kind: 409, validation_failed: 400, not_implemented: 501 };

/** The gateway's way to the registration and identity services: a command over Kafka, answered once the facts are stored. */
@Injectable()
export class RegistryClient implements OnModuleInit, OnApplicationShutdown {
  private client!: CommandClient;

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(TOPICS) readonly topics: TopicMap,
    private readonly logger: JsonLogger,
    private readonly positions: WritePositions,
  ) {}

  async onModuleInit() {
    await ensureTopics(this.kafka, Object.values(this.topics), 8);
    this.client = new CommandClient(this.kafka, this.topics.commandReplies, this.logger);
    await this.client.start();
  }

  async device(command: RegistrationCommand, key: string): Promise<{ view: DeviceView; created: boolean }> {
    return this.unwrap(await this.send(this.topics.registrationCommands, key, command), command.appId);
  }

  /**
   * The registration service owns the app streams. `errors`: the edge's own answer to some domain codes.
   * No write position is kept: app facts reach the gateway's app registry, not the read models.
   */
  async app(command: AppAdminCommand, errors: Record<string, () => ApiError> = {}): Promise<AppView> {
    const reply = await this.send(this.topics.registrationCommands, command.appId, command);
    if (!reply.ok && errors[reply.error.code]) throw errors[reply.error.code]();
    return this.unwrap<{ view: AppView }>(reply).view;
  }

  async user(command: IdentityCommand): Promise<UserView> {
    return this.unwrap(await this.send(this.topics.identityCommands, command.userId, command), command.appId);
  }

  async push(command: SendPushCommand): Promise<SendPushResultV1> {
    return this.unwrap(await this.send(this.topics.campaignCommands, command.messageId, command));
  }

  async campaign(command: CampaignCommand): Promise<unknown> {
    return this.unwrap(await this.send(this.topics.campaignCommands, 'campaignId' in command ? command.campaignId : command.commandId, command));
  }

  /** Durable once this resolves (acks from all in-sync replicas); no answer awaited. */
  async publish(topic: string, messages: { key: string | null; value: string; headers?: Record<string, string> }[]): Promise<void> {
    await this.client.publish(topic, messages);
  }

  private async send(topic: string, key: string, command: RegistrationCommand | AppAdminCommand | IdentityCommand | CampaignCommand): Promise<CommandReply> {
    try {
      return await this.client.send(topic, key, command as unknown as CommandEnvelope);
    } catch (err) {
      if (err instanceof CommandTimeoutError) throw new ApiError(503, 'unavailable', 'the registry did not answer in time; retry with the same Idempotency-Key', undefined, { 'Retry-After': '1' });
      throw err;
    }
  }

  private unwrap<R>(reply: CommandReply, appId?: string): R {
    if (reply.ok && appId !== undefined && reply.position !== undefined) this.positions.wrote(appId, BigInt(reply.position));
    if (reply.ok) return reply.result as R;
    throw new ApiError(DOMAIN_STATUS[reply.error.code] ?? 422, reply.error.code, reply.error.message);
  }

  async onApplicationShutdown() {
    await this.client?.stop();
  }
}
