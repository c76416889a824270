import { randomUUID } from 'crypto';
import { Consumer, Kafka, Producer } from 'kafkajs';
import type { LoggerService } from '@nestjs/common';
import { ConsumerRunner, InboundMessage, PoisonMessageError } from './consumer-runner';
import { createProducer, ensureTopics } from './kafka.factory';

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

/**
 * Sends commands to a service over Kafka and waits for its reply. Each client instance reads the
 * reply topic in a consumer group of its own, from the end, and matches replies by command id.
 */
export class CommandClient {
  private producer?: Producer;
  private consumer?: Consumer;
  private readonly pending = new Map<string, { resolve: (r: CommandReply) => void; timer: NodeJS.Timeout }>();
  readonly instanceId = randomUUID();

  constructor(
    private readonly kafka: Kafka,
    private readonly replyTopic: string,
    private readonly logger?: LoggerService,
  ) {}

  async start(): Promise<void> {
    await ensureTopics(this.kafka, [this.replyTopic], 8);
    this.producer = createProducer(this.kafka);
    await this.producer.connect();
    this.consumer = this.kafka.consumer({ groupId: `pushledger-replies-${this.instanceId}`, maxWaitTimeInMs: 100, sessionTimeout: 30000 });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.replyTopic, fromBeginning: false });
    const joined = new Promise<void>((resolve) => {
      const off = this.consumer!.on(this.consumer!.events.GROUP_JOIN, () => {
        off();
        resolve();
      });
    });
    await this.consumer.run({
      autoCommit: true,
      eachMessage: async ({ message }) => {
        if (message.headers?.['reply-for']?.toString() !== this.instanceId || !message.value) return;
        const reply = JSON.parse(message.value.toString('utf8')) as CommandReply;
        // Matched by the request's own correlation id: two requests may carry one command id (one idempotency key).
        const correlation = message.headers?.['correlation-id']?.toString() ?? reply.commandId;
        const waiter = this.pending.get(correlation);
        if (!waiter) return;
        clearTimeout(waiter.timer);
        this.pending.delete(correlation);
        waiter.resolve(reply);
      },
    });
    await joined;
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
    try {
      await this.producer!.send({
        topic,
        acks: -1,
        messages: [{ key, value: JSON.stringify(command), headers: { 'reply-to': this.replyTopic, 'reply-for': this.instanceId, 'correlation-id': correlation, 'command-id': command.commandId, 'command-type': command.type, 'app-id': command.appId } }],
      });
    } catch (err) {
      const waiter = this.pending.get(correlation);
      if (waiter) clearTimeout(waiter.timer);
      this.pending.delete(correlation);
      throw err;
    }
    return reply;
  }

  /** Publishes without waiting for an answer (durable once this resolves). */
  async publish(topic: string, messages: { key: string | null; value: string; headers?: Record<string, string> }[]): Promise<void> {
    await this.producer!.send({ topic, acks: -1, messages });
  }

  async stop(): Promise<void> {
    for (const w of this.pending.values()) clearTimeout(w.timer);
    await this.consumer?.disconnect().catch(() => undefined);
    await this.producer?.disconnect().catch(() => undefined);
    this.logger?.log('command client stopped');
  }
}

/**
 * Consumes a command topic: the handler's effect comes first, then the reply, then the offset commit,
 * so a crash anywhere re-runs an idempotent handler and replies again.
 */
export class CommandServer {
  private runner?: ConsumerRunner;
  private producer?: Producer;

  constructor(
    private readonly opts: {
      kafka: Kafka;
      groupId: string;
      topic: string;
      dlqTopic: string;
      handle: (command: CommandEnvelope, msg: InboundMessage) => Promise<CommandReply>;
      logger?: LoggerService;
      partitionsConsumedConcurrently?: number;
    },
  ) {}

  async start(): Promise<void> {
    this.producer = createProducer(this.opts.kafka);
    await this.producer.connect();
    this.runner = new ConsumerRunner({
      kafka: this.opts.kafka,
      groupId: this.opts.groupId,
      topics: [this.opts.topic],
      dlqTopic: this.opts.dlqTopic,
      logger: this.opts.logger,
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently ?? 8,
      handle: async (msg) => {
        let command: CommandEnvelope;
        try {
          command = JSON.parse(msg.value?.toString('utf8') ?? '');
        } catch {
          throw new PoisonMessageError('invalid_json');
        }
        if (!command?.commandId || !command.type) throw new PoisonMessageError('invalid_command', 'commandId and type are required');
        const reply = await this.opts.handle(command, msg);
        const replyTo = msg.headers['reply-to'];
        if (replyTo) {
          await this.producer!.send({ topic: replyTo, acks: -1, messages: [{ key: command.commandId, value: JSON.stringify(reply), headers: { 'reply-for': msg.headers['reply-for'] ?? '', 'correlation-id': msg.headers['correlation-id'] ?? command.commandId } }] });
        }
      },
    });
    await this.runner.start();
  }

  async stop(): Promise<void> {
    await this.runner?.stop();
    await this.producer?.disconnect().catch(() => undefined);
  }
}
