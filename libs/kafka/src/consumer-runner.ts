import { Consumer, Kafka, KafkaMessage, Producer, IHeaders } from 'kafkajs';
import type { LoggerService } from '@nestjs/common';
import { createProducer, ensureTopics } from './kafka.factory';

/** Thrown by a handler for a message that can never be applied: it goes to the dead-letter topic. */
export class PoisonMessageError extends Error {
  constructor(
    readonly reason: string,
    message?: string,
  ) {
    super(message ?? reason);
  }
}

export interface InboundMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  timestamp: string;
  /** Keeps the group membership alive during a long effect (retry back-off). */
  heartbeat: () => Promise<void>;
}

export interface ConsumerRunnerOptions {
  kafka: Kafka;
  groupId: string;
  topics: string[];
  dlqTopic: string;
  handle: (msg: InboundMessage) => Promise<void>;
  logger?: LoggerService;
  /** Attempts of one message before an unexpected error sends it to the DLQ (so the partition moves). */
  maxAttempts?: number;
  partitionsConsumedConcurrently?: number;
  /**
   * Messages of one fetched batch handled at once, each key's in order (1: one after another). Lets
   * concurrent effects share work downstream, such as the event store's group commit.
   */
  keyConcurrency?: number;
  /** What must stay in order with keyConcurrency > 1; the message key by default. */
  laneOf?: (message: KafkaMessage) => string;
  /** Runs after a batch's handlers and before its offsets are committed (e.g. to send buffered replies). */
  afterBatch?: () => Promise<void>;
  /** Told of each message once it is handled or dead-lettered (metrics). */
  onOutcome?: (topic: string, outcome: MessageOutcome) => void;
  fromBeginning?: boolean;
  sessionTimeout?: number;
  heartbeatInterval?: number;
}

export type MessageOutcome = 'applied' | 'dlq';

export function headersToRecord(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? String(v[0]) : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  }
  return out;
}

/**
 * Runs a consumer whose offsets are committed only after the handler's effect (kafkajs commits
 * what eachMessage resolved). Poison messages, and messages whose handler keeps failing, go to
 * the dead-letter topic with the reason in headers; transient failures are retried in place.
 */
export class ConsumerRunner {
  private consumer?: Consumer;
  private producer?: Producer;
  private readonly failures = new Map<string, number>();

  constructor(private readonly opts: ConsumerRunnerOptions) {}

  async start(): Promise<void> {
    const { kafka, groupId } = this.opts;
    await ensureTopics(kafka, [...this.opts.topics, this.opts.dlqTopic], 8);
    this.producer = createProducer(kafka);
    await this.producer.connect();
    this.consumer = kafka.consumer({
      groupId,
      sessionTimeout: this.opts.sessionTimeout ?? 30000,
      heartbeatInterval: this.opts.heartbeatInterval ?? 3000,
      retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5000, restartOnFailure: async () => true },
    });
    await this.consumer.connect();
    for (const topic of this.opts.topics) await this.consumer.subscribe({ topic, fromBeginning: this.opts.fromBeginning ?? true });
    await this.consumer.run({
      autoCommit: true,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently ?? 4,
      eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }) => {
        const done = new Set<string>();
        let failure: unknown;
        const lanes = new Map<string, KafkaMessage[]>();
        const concurrency = this.opts.keyConcurrency ?? 1;
        for (const m of batch.messages) {
          const lane = concurrency <= 1 ? '' : this.opts.laneOf ? this.opts.laneOf(m) : (m.key?.toString('utf8') ?? '');
          const list = lanes.get(lane);
          if (list) list.push(m);
          else lanes.set(lane, [m]);
        }
        const queue = [...lanes.values()];
        const worker = async () => {
          for (let lane = queue.shift(); lane; lane = queue.shift()) {
            for (const m of lane) {
              if (failure !== undefined || !isRunning() || isStale()) return;
              try {
                await this.process(batch.topic, batch.partition, m, heartbeat);
                done.add(m.offset);
                await heartbeat();
              } catch (err) {
                failure ??= err;
              }
            }
          }
        };
        await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) || 1 }, worker));
        if (done.size) await this.opts.afterBatch?.();
        // Offsets are committed only up to the first message not handled: the rest come again (handlers are idempotent).
        for (const m of batch.messages) {
          if (!done.has(m.offset)) break;
          resolveOffset(m.offset);
        }
        await commitOffsetsIfNecessary();
        await heartbeat();
        if (failure !== undefined) throw failure;
      },
    });
  }

  private async process(topic: string, partition: number, message: KafkaMessage, heartbeat: () => Promise<void>): Promise<void> {
    const inbound: InboundMessage = {
      topic,
      partition,
      offset: message.offset,
      key: message.key ? message.key.toString('utf8') : null,
      value: message.value,
      headers: headersToRecord(message.headers),
      timestamp: message.timestamp,
      heartbeat,
    };
    const id = `${topic}/${partition}/${message.offset}`;
    try {
      await this.opts.handle(inbound);
      this.failures.delete(id);
      this.opts.onOutcome?.(topic, 'applied');
    } catch (err) {
      if (err instanceof PoisonMessageError) {
        await this.deadLetter(inbound, err.reason, err.message);
        return;
      }
      const attempts = (this.failures.get(id) ?? 0) + 1;
      this.failures.set(id, attempts);
      const max = this.opts.maxAttempts ?? 10;
      if (attempts >= max) {
        this.failures.delete(id);
        await this.deadLetter(inbound, 'handler_failed', `${attempts} attempts: ${(err as Error).message}`);
        return;
      }
      this.opts.logger?.warn(`handler failed, will retry (${attempts}/${max})`, { topic, partition, offset: message.offset, error: (err as Error).message });
      await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** attempts)));
      throw err;
    }
  }

  private async deadLetter(msg: InboundMessage, reason: string, detail: string): Promise<void> {
    this.opts.logger?.warn('message dead-lettered', { topic: msg.topic, partition: msg.partition, offset: msg.offset, reason, detail });
    await this.producer!.send({
      topic: this.opts.dlqTopic,
      acks: -1,
      messages: [
        {
          key: msg.key,
          value: msg.value,
          headers: {
            ...msg.headers,
            'dlq-reason': reason,
            'dlq-detail': detail.slice(0, 1000),
            'dlq-source-topic': msg.topic,
            'dlq-source-partition': String(msg.partition),
            'dlq-source-offset': msg.offset,
            'dlq-at': new Date().toISOString(),
          },
        },
      ],
    });
    this.opts.onOutcome?.(msg.topic, 'dlq');
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
    await this.producer?.disconnect().catch(() => undefined);
  }
}
