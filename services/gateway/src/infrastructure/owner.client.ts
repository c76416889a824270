import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type {
  AppAdminCommand,
  AppCommandResult,
  AppDirectoryEntryV1,
  AppListResult,
  AppQueryResult,
  CampaignAudienceResult,
  CampaignCommand,
  CampaignCountersResult,
  CampaignQuery,
  DailyDeviceStatsResult,
  DailyPushStatsResult,
  DayCountsV1,
  DeviceEventsResult,
  DeviceQueryResult,
  DeviceRef,
  DeviceStatsResult,
  DeliveryCommand,
  DeliveryQuery,
  DeviceView,
  HistoryEntry,
  IdentityCommand,
  IdentityQuery,
  MessageCountersResult,
  MessageOutcomesPageResult,
  MessageQueryResult,
  MessageRecordV1,
  OutcomeCountersV1,
  OutcomeQueryResult,
  PushDayCountsV1,
  RegistrationCommand,
  RegistrationQuery,
  ResumeSendsResult,
  SendsPauseResult,
  WebhookListResult,
  ListPageV1,
  PagedV1,
  WebhookV1,
  SegmentRequest,
  SendPushCommand,
  SendPushResultV1,
  TopicMap,
  UserDevicesResult,
  UserExportResult,
  UserExportV1,
  UserKeyResult,
  UserQueryResult,
  UserView,
} from '@pushledger/contracts';
import { CommandClient, CommandEnvelope, CommandReply, commandSeals, ensureTopics, type CommandSeals } from '@pushledger/kafka';
import { JsonLogger } from '@pushledger/observability';
import { CONFIG, KAFKA, TOPICS } from '@pushledger/platform';
import type { PushledgerConfig } from '@pushledger/config';
import { deviceIdFromToken, userMessageKey } from '@pushledger/contracts';
import { randomUUID } from 'crypto';
import { WritePositions } from '../application/write-positions';

/** The owner did not answer: it is down, or slower than the wait. Nothing is known about the outcome. */
export class OwnerUnavailableError extends Error {}

/** The owner answered with a refusal: its code (`token_invalidated`, `validation_failed`, …) and message. */
export class OwnerRefusedError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** A command waits this long for its owner; a read less, so a down owner answers 503 soon. */
const COMMAND_TIMEOUT_MS = 15_000;
const QUERY_TIMEOUT_MS = 5_000;
/** Statistics and exports fold whole histories at the owner. */
const STATS_TIMEOUT_MS = 30_000;
/** A publish (Segment events, receipts) not acknowledged by then answers 503; the client retries (Segment messages are applied once by id). */
const PUBLISH_TIMEOUT_MS = 15_000;

type Request = DeliveryCommand | DeliveryQuery | RegistrationCommand | AppAdminCommand | RegistrationQuery | IdentityCommand | IdentityQuery | CampaignCommand | SegmentRequest | CampaignQuery;

/**
 * The gateway's way to the owners (registration, identity, campaign; delivery for outcomes): a command or a query on the
 * owner's command topic, answered over Kafka once the owner has stored the facts (or read its streams).
 */
@Injectable()
export class OwnerClient implements OnModuleInit, OnApplicationShutdown {
  private client?: CommandClient;
  private starting?: Promise<CommandClient>;
  private readonly seals: CommandSeals;

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(TOPICS) readonly topics: TopicMap,
    private readonly logger: JsonLogger,
    private readonly positions: WritePositions,
    @Inject(CONFIG) private readonly config: PushledgerConfig,
  ) {
    this.seals = commandSeals(config);
  }

  /** A user's messages' Kafka key: a keyed hash, so no key names the user. */
  userCommandKey(appId: string, userId: string): string {
    return userMessageKey(appId, userId, this.config.secretKey?.key);
  }

  async onModuleInit() {
    await this.started();
  }

  /** Resolves once the topics exist and replies can be awaited. */
  async ready(): Promise<void> {
    await this.started();
  }

  /** Start-up hooks run side by side: whoever needs the client first starts it. */
  private started(): Promise<CommandClient> {
    this.starting ??= (async () => {
      await ensureTopics(this.kafka, Object.values(this.topics), 8);
      const client = new CommandClient(this.kafka, this.topics.commandReplies, this.logger, this.seals);
      await client.start();
      this.client = client;
      return client;
    })();
    return this.starting;
  }

  async device(command: RegistrationCommand): Promise<{ view: DeviceView; created: boolean }> {
    return this.unwrap(await this.send(this.topics.registrationCommands, registrationKey(command), command), command.appId);
  }

  /** No write position is kept: app facts reach the gateways' app directories, not the read models. */
  async app(command: AppAdminCommand): Promise<AppDirectoryEntryV1> {
    return this.unwrap<AppCommandResult>(await this.send(this.topics.registrationCommands, command.appId, command)).app;
  }

  /** To the delivery service, which keeps the sends' ledger and pauses. */
  async delivery<R = ResumeSendsResult>(command: DeliveryCommand): Promise<R> {
    return this.unwrap(await this.send(this.topics.deliveryCommands, command.appId, command)) as R;
  }

  async webhooks(appId: string, page: ListPageV1): Promise<PagedV1<WebhookV1>> {
    const result = await this.query<WebhookListResult>(this.topics.deliveryCommands, appId, { ...meta(appId), type: 'ListWebhooks', page });
    return { items: result.webhooks, next: result.next ?? null };
  }

  async user(command: IdentityCommand): Promise<UserView> {
    return this.unwrap(await this.send(this.topics.identityCommands, this.userCommandKey(command.appId, command.userId), command), command.appId);
  }

  async push(command: SendPushCommand): Promise<SendPushResultV1> {
    return this.unwrap(await this.send(this.topics.campaignCommands, command.messageId, command));
  }

  async campaign(command: CampaignCommand): Promise<unknown> {
    return this.unwrap(await this.send(this.topics.campaignCommands, 'campaignId' in command ? command.campaignId : command.commandId, command));
  }

  /**
   * Segment versions are writes of the campaign service; reads of them are its queries. A preview counts the
   * app's users (a scan on FerretDB: about 5 s at 25,000 users here), so it waits as long as statistics do;
   * the campaign service counts to the end whether or not the gateway still waits.
   */
  async segments<R>(request: SegmentRequest): Promise<R> {
    const timeoutMs = request.type === 'CreateSegment' || request.type === 'UpdateSegment' ? COMMAND_TIMEOUT_MS : request.type === 'PreviewSegment' ? STATS_TIMEOUT_MS : QUERY_TIMEOUT_MS;
    return this.unwrap(await this.send(this.topics.campaignCommands, 'segmentId' in request ? request.segmentId : request.commandId, request, timeoutMs));
  }

  /** The device by id, or the one holding the token (null: none), as it is now or as it was at `asOf`. */
  async findDevice(appId: string, device: DeviceRef, asOf: Date | null = null): Promise<DeviceView | null> {
    return (await this.query<DeviceQueryResult>(this.topics.registrationCommands, deviceKey(device), { ...meta(appId), type: 'GetDevice', device, asOf: asOf?.toISOString() ?? null })).view;
  }

  /** A page of the device's facts from a revision; `next` starts the following page (null: the last). */
  async deviceEvents(appId: string, deviceId: string, page: { fromRevision: number; limit: number }): Promise<{ events: HistoryEntry[]; next: number | null }> {
    const result = await this.query<DeviceEventsResult>(this.topics.registrationCommands, deviceId, { ...meta(appId), type: 'GetDeviceEvents', deviceId, ...page });
    return { events: result.events, next: result.next ?? null };
  }

  deviceStats(appId: string): Promise<DeviceStatsResult> {
    return this.query(this.topics.registrationCommands, appId, { ...meta(appId), type: 'GetDeviceStats' }, STATS_TIMEOUT_MS);
  }

  async dailyDeviceStats(appId: string, from: string, to: string): Promise<DayCountsV1[]> {
    return (await this.query<DailyDeviceStatsResult>(this.topics.registrationCommands, appId, { ...meta(appId), type: 'GetDailyDeviceStats', from, to }, STATS_TIMEOUT_MS)).days;
  }

  async dailyPushStats(appId: string, from: string, to: string): Promise<PushDayCountsV1[]> {
    return (await this.query<DailyPushStatsResult>(this.topics.deliveryCommands, appId, { ...meta(appId), type: 'GetDailyPushStats', from, to })).days;
  }

  async findApp(appId: string): Promise<AppDirectoryEntryV1 | null> {
    return (await this.query<AppQueryResult>(this.topics.registrationCommands, appId, { ...meta(appId), type: 'GetApp' })).app;
  }

  async listApps(): Promise<AppDirectoryEntryV1[]> {
    return (await this.query<AppListResult>(this.topics.registrationCommands, 'apps', { ...meta(''), type: 'ListApps' })).apps;
  }

  async findUser(appId: string, userId: string, asOf: Date | null = null): Promise<UserView | null> {
    return (await this.query<UserQueryResult>(this.topics.identityCommands, this.userCommandKey(appId, userId), { ...meta(appId), type: 'GetUser', userId, asOf: asOf?.toISOString() ?? null })).view;
  }

  /** null: no such user. */
  async userDevices(appId: string, userId: string): Promise<DeviceView[] | null> {
    return (await this.query<UserDevicesResult>(this.topics.identityCommands, this.userCommandKey(appId, userId), { ...meta(appId), type: 'GetUserDevices', userId })).views;
  }

  async exportUser(appId: string, userId: string): Promise<UserExportV1 | null> {
    return (await this.query<UserExportResult>(this.topics.identityCommands, this.userCommandKey(appId, userId), { ...meta(appId), type: 'ExportUser', userId }, STATS_TIMEOUT_MS)).export;
  }

  async userKey(appId: string, userId: string): Promise<string> {
    return (await this.query<UserKeyResult>(this.topics.identityCommands, this.userCommandKey(appId, userId), { ...meta(appId), type: 'GetUserKey', userId })).key;
  }

  /** The message as its sender recorded it (null: none for this app). */
  async message(appId: string, messageId: string): Promise<MessageRecordV1 | null> {
    return (await this.query<MessageQueryResult>(this.topics.campaignCommands, messageId, { ...meta(appId), type: 'GetMessage', messageId })).message;
  }

  campaignAudience(appId: string, campaignId: string): Promise<CampaignAudienceResult> {
    return this.query(this.topics.campaignCommands, campaignId, { ...meta(appId), type: 'GetCampaignAudience', campaignId });
  }

  /** A page of a message's outcomes from the delivery ledger, in device id order. */
  messageOutcomes(appId: string, messageId: string, limit: number, after: string | null): Promise<MessageOutcomesPageResult> {
    return this.query(this.topics.deliveryCommands, messageId, { ...meta(appId), type: 'GetMessageOutcomes', messageId, limit, after });
  }

  async messageCounters(appId: string, messageId: string): Promise<MessageCountersResult['counters']> {
    return (await this.query<MessageCountersResult>(this.topics.deliveryCommands, messageId, { ...meta(appId), type: 'GetMessageCounters', messageId })).counters;
  }

  async campaignCounters(appId: string, campaignId: string): Promise<OutcomeCountersV1> {
    return (await this.query<CampaignCountersResult>(this.topics.deliveryCommands, campaignId, { ...meta(appId), type: 'GetCampaignCounters', campaignId })).counters;
  }

  async outcome(appId: string, messageId: string, deviceId: string): Promise<OutcomeQueryResult['outcome']> {
    return (await this.query<OutcomeQueryResult>(this.topics.deliveryCommands, `${messageId}:${deviceId}`, { ...meta(appId), type: 'GetOutcome', messageId, deviceId })).outcome;
  }

  /** Why delivery paused the app's sends, or null. */
  async sendsPause(appId: string): Promise<string | null> {
    return (await this.query<SendsPauseResult>(this.topics.deliveryCommands, appId, { ...meta(appId), type: 'GetSendsPause' })).reason;
  }

  /** Durable once this resolves (acks from all in-sync replicas); no answer awaited. Values travel sealed like commands. */
  async publish(topic: string, messages: { key: string | null; value: unknown; headers?: Record<string, string> }[]): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const sealed = messages.map((m) => ({ ...m, value: this.seals.command.seal(m.value) }));
    const published = (async () => (await this.started()).publish(topic, sealed))();
    // Kafka away: the producer's own retries would hold the request for minutes.
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not acknowledged within ${PUBLISH_TIMEOUT_MS} ms`)), PUBLISH_TIMEOUT_MS)));
    published.catch(() => undefined);
    try {
      await Promise.race([published, late]);
    } catch (err) {
      throw new OwnerUnavailableError(`could not publish to ${topic}: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  private async query<R>(topic: string, key: string, query: RegistrationQuery | IdentityQuery | CampaignQuery | DeliveryQuery, timeoutMs = QUERY_TIMEOUT_MS): Promise<R> {
    return this.unwrap(await this.send(topic, key, query, timeoutMs));
  }

  private async send(topic: string, key: string, request: Request, timeoutMs = COMMAND_TIMEOUT_MS): Promise<CommandReply> {
    const client = await this.started();
    try {
      return await client.send(topic, key, request as unknown as CommandEnvelope, timeoutMs);
    } catch (err) {
      // A timeout, or Kafka refusing the request: either way the owner cannot be asked now.
      throw new OwnerUnavailableError((err as Error).message);
    }
  }

  private unwrap<R>(reply: CommandReply, appId?: string): R {
    if (reply.ok && appId !== undefined && reply.position !== undefined) this.positions.wrote(appId, BigInt(reply.position));
    if (reply.ok) return reply.result as R;
    throw new OwnerRefusedError(reply.error.code, reply.error.message, reply.error.details);
  }

  async onApplicationShutdown() {
    await this.client?.stop();
  }
}

function meta(appId: string) {
  return { commandId: randomUUID(), appId, issuedAt: new Date().toISOString() };
}

/** Kafka keys name a device, never a token: a device named by its token is keyed by the id its token derives. */
function deviceKey(ref: DeviceRef): string {
  return 'deviceId' in ref ? ref.deviceId : deviceIdFromToken(ref.token);
}

function registrationKey(command: RegistrationCommand): string {
  if ('device' in command && command.device) return deviceKey(command.device as DeviceRef);
  if ('deviceId' in command && typeof command.deviceId === 'string' && command.deviceId) return command.deviceId;
  if ('token' in command && typeof command.token === 'string') return deviceIdFromToken(command.token);
  return command.appId;
}
