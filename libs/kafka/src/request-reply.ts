import { randomUUID } from 'crypto';
import { Consumer, Kafka, Message, Producer } from 'kafkajs';
import type { LoggerService } from '@nestjs/common';
import { ConsumerRunner, ConsumerRunnerOptions, InboundMessage, PausedPartition, PoisonMessageError } from './consumer-runner';
import { createProducer, ensureTopics } from './kafka.factory';
import { reviveOnFatalCrash } from './revive';
import type { PushledgerConfig } from '@pushledger/config';
import { maskTokens } from '@pushledger/observability';
import { MessageSeal, UnsealableMessageError } from './message-seal';

/** How command and reply values are sealed on their topics (plain JSON when no secret key is configured). */
export interface CommandSeals {
  command: MessageSeal;
  reply: MessageSeal;
}

export function commandSeals(config: Pick<PushledgerConfig, 'secretKey'>): CommandSeals {
  return { command: new MessageSeal(config.secretKey, 'command'), reply: new MessageSeal(config.secretKey, 'reply') };
}

/** Plain JSON both ways: what a transport uses with no secret key configured. */
export const PLAIN_SEALS: CommandSeals = commandSeals({});

export interface CommandEnvelope<T = unknown> {
  commandId: string;
  type: string;
  appId: string;
  issuedAt: string;
  payload: T;
}

/** `position`: where the store holds the facts the answer reflects (decimal), for read-your-writes. */
export type CommandReply<R = unknown> = { commandId: string; ok: true; result: R; position?: string } | { commandId: string; ok: false; error: { code: string; message: string; details?: unknown } };

export class CommandTimeoutError extends Error {}

/** Commands of one fetched batch a service handles at once, so their appends share a group commit. */
export const COMMAND_KEY_CONCURRENCY = 64;
const MAX_MESSAGES_PER_PRODUCE = 1000;

/**
 * Sends commands to a service over Kafka and waits for its reply. Each client instance reads the
 * reply topic in a consumer group of its own, from the end, and matches replies by command id.
 */
export class CommandClient {
  private producer?: Producer;
  private consumer?: Consumer;
  private readonly pending = new Map<string, { resolve: (r: CommandReply) => void; timer: NodeJS.Timeout }>();
  private readonly outbox: { topic: string; message: Message; done: (err?: unknown) => void }[] = [];
  private sending = false;
  private stopped = false;
  readonly instanceId = randomUUID();

  constructor(
    private readonly kafka: Kafka,
    private readonly replyTopic: string,
    private readonly logger?: LoggerService,
    private readonly seals: CommandSeals = PLAIN_SEALS,
  ) {}

  async start(): Promise<void> {
    await ensureTopics(this.kafka, [this.replyTopic], 8);
    this.producer = createProducer(this.kafka);
    await this.producer.connect();
    const groupId = `pushledger-replies-${this.instanceId}`;
    // The group starts at the topic's end, committed before it joins: "latest" resolved at the first fetch
    // (retried while a partition has no leader yet, again after each rebalance) could pass over a reply.
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const ends = await admin.fetchTopicOffsets(this.replyTopic);
      await admin.setOffsets({ groupId, topic: this.replyTopic, partitions: ends.map(({ partition, offset }) => ({ partition, offset })) });
    } finally {
      await admin.disconnect();
    }
    await this.startConsumer(groupId);
  }

  private async startConsumer(groupId: string): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
    this.consumer = this.kafka.consumer({ groupId, maxWaitTimeInMs: 100, sessionTimeout: 30000 });
    // Without its reply consumer the gateway would answer 503 to everything until restarted.
    reviveOnFatalCrash(this.consumer, { name: 'reply consumer', start: () => this.startConsumer(groupId), stopped: () => this.stopped, logger: this.logger });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.replyTopic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: true,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          if (message.headers?.['reply-for']?.toString() !== this.instanceId || !message.value) continue;
          let reply: CommandReply;
          try {
            reply = this.seals.reply.open(message.value.toString('utf8')) as CommandReply;
          } catch (err) {
            this.logger?.warn?.(`a reply for this instance could not be read: ${(err as Error).message}`);
            continue;
          }
          // Matched by the request's own correlation id: two requests may carry one command id (one idempotency key).
          const correlation = message.headers?.['correlation-id']?.toString() ?? reply.commandId;
          const waiter = this.pending.get(correlation);
          if (!waiter) continue;
          clearTimeout(waiter.timer);
          this.pending.delete(correlation);
          waiter.resolve(reply);
        }
      },
    });
  }

  /** Resolves with the service's reply; rejects with CommandTimeoutError when none comes in time. */
  async send<R>(topic: string, key: string, command: CommandEnvelope, timeoutMs = 15000): Promise<CommandReply<R>> {
    const correlation = randomUUID();
    const reply = new Promise<CommandReply<R>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlation);
        reject(new CommandTimeoutError(`no reply to ${command.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(correlation, { resolve: resolve as (r: CommandReply) => void, timer });
    });
    // The timer may fire while the produce is still retrying (Kafka away): that rejection is handled below or by the caller, never unhandled.
    reply.catch(() => undefined);
    const produced = this.enqueue(topic, { key, value: this.seals.command.seal(command), headers: { 'reply-to': this.replyTopic, 'reply-for': this.instanceId, 'correlation-id': correlation, 'command-id': command.commandId, 'command-type': command.type, 'app-id': command.appId } }).catch((err: unknown) => {
      const waiter = this.pending.get(correlation);
      if (waiter) clearTimeout(waiter.timer);
      this.pending.delete(correlation);
      throw err;
    });
    produced.catch(() => undefined);
    // The wait ends at the timeout even while the produce is still retrying (Kafka away, its retries take minutes).
    await Promise.race([produced, reply]);
    return reply;
  }

  /** Publishes without waiting for an answer (durable once this resolves). */
  async publish(topic: string, messages: { key: string | null; value: string; headers?: Record<string, string> }[]): Promise<void> {
    await Promise.all(messages.map((m) => this.enqueue(topic, m)));
  }

  /**
   * One produce request in flight at a time; what arrives meanwhile goes in the next one. At low load a
   * message leaves at once, under load many share one request (no fixed linger to wait out).
   */
  private enqueue(topic: string, message: Message): Promise<void> {
    return new Promise((resolve, reject) => {
      this.outbox.push({ topic, message, done: (err) => (err === undefined ? resolve() : reject(err)) });
      if (!this.sending) void this.drainOutbox();
    });
  }

  private async drainOutbox(): Promise<void> {
    this.sending = true;
    try {
      while (this.outbox.length) {
        const items = this.outbox.splice(0, MAX_MESSAGES_PER_PRODUCE);
        const byTopic = new Map<string, Message[]>();
        for (const i of items) {
          const list = byTopic.get(i.topic);
          if (list) list.push(i.message);
          else byTopic.set(i.topic, [i.message]);
        }
        try {
          await this.producer!.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([t, messages]) => ({ topic: t, messages })) });
          for (const i of items) i.done();
        } catch (err) {
          for (const i of items) i.done(err);
        }
      }
    } finally {
      this.sending = false;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.pending.values()) clearTimeout(w.timer);
    await this.consumer?.disconnect().catch(() => undefined);
    await this.producer?.disconnect().catch(() => undefined);
    this.logger?.log('command client stopped');
  }
}

export interface CommandServerOptions extends Omit<ConsumerRunnerOptions, 'topics' | 'handle' | 'afterBatch'> {
  topic: string;
  handle: (command: CommandEnvelope, msg: InboundMessage) => Promise<CommandReply>;
  seals?: CommandSeals;
}

/**
 * Consumes a command topic: the handler's effect comes first, then the reply, then the offset commit,
 * so a crash anywhere re-runs an idempotent handler and replies again.
 */
export class CommandServer {
  private runner?: ConsumerRunner;
  private producer?: Producer;
  /** Replies of the batch being handled: sent together, after the effects and before the offsets are committed. */
  private replies = new Map<string, Message[]>();

  constructor(private readonly opts: CommandServerOptions) {}

  async start(): Promise<void> {
    const { topic, handle, seals = PLAIN_SEALS, ...runner } = this.opts;
    this.producer = createProducer(this.opts.kafka);
    await this.producer.connect();
    this.runner = new ConsumerRunner({
      ...runner,
      topics: [topic],
      partitionsConsumedConcurrently: runner.partitionsConsumedConcurrently ?? 8,
      keyConcurrency: runner.keyConcurrency ?? COMMAND_KEY_CONCURRENCY,
      afterBatch: () => this.flushReplies(),
      handle: async (msg) => {
        let command: CommandEnvelope;
        try {
          command = seals.command.open(msg.value?.toString('utf8') ?? '') as CommandEnvelope;
        } catch (err) {
          if (err instanceof UnsealableMessageError) throw new PoisonMessageError('unsealable', err.message);
          throw new PoisonMessageError('invalid_json');
        }
        if (!command?.commandId || !command.type) throw new PoisonMessageError('invalid_command', 'commandId and type are required');
        const reply = await handle(command, msg);
        const replyTo = msg.headers['reply-to'];
        if (!replyTo) return;
        // Replies travel on a shared topic and are read by the gateway only to answer with masked views: no whole token goes out.
        const message = { key: command.commandId, value: seals.reply.seal(maskTokens(reply)), headers: { 'reply-for': msg.headers['reply-for'] ?? '', 'correlation-id': msg.headers['correlation-id'] ?? command.commandId } };
        const list = this.replies.get(replyTo);
        if (list) list.push(message);
        else this.replies.set(replyTo, [message]);
      },
    });
    await this.runner.start();
  }

  private async flushReplies(): Promise<void> {
    if (this.replies.size === 0) return;
    const taken = this.replies;
    this.replies = new Map();
    try {
      await this.producer!.sendBatch({ acks: -1, topicMessages: [...taken].map(([topic, messages]) => ({ topic, messages })) });
    } catch (err) {
      // Another partition's batch may have committed with its replies in this send: keep them for the next one.
      for (const [topic, messages] of taken) this.replies.set(topic, [...messages, ...(this.replies.get(topic) ?? [])]);
      throw err;
    }
  }

  pausedPartitions(): PausedPartition[] {
    return this.runner?.pausedPartitions() ?? [];
  }

  async stop(): Promise<void> {
    await this.runner?.stop();
    await this.producer?.disconnect().catch(() => undefined);
  }
}
