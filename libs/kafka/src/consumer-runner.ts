import { Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer, IHeaders } from 'kafkajs';
import type { LoggerService } from '@nestjs/common';
import { createProducer, ensureTopics } from './kafka.factory';
import { reviveOnFatalCrash } from './revive';

/** Thrown by a handler for a message that can never be applied: it goes to the dead-letter topic. */
export class PoisonMessageError extends Error {
  constructor(
    readonly reason: string,
    message?: string,
  ) {
    super(message ?? reason);
  }
}

/**
 * Thrown by a handler whose message must wait longer than it should hold its partition's turn (a provider's
 * Retry-After): what it finished is already durable, the rest is tried again after `afterMs` with its
 * partition paused meanwhile. Not a failure: no quick retries, no attempt counted.
 */
export class DeferMessageError extends Error {
  constructor(
    readonly afterMs: number,
    readonly reason: string,
  ) {
    super(`deferred ${afterMs} ms: ${reason}`);
  }
}

/** A message's effect failed for a reason other than poison (or was deferred): its partition waits, then it is tried again. */
class RetryLaterError extends Error {
  constructor(
    readonly attempts: number,
    failure: unknown,
    readonly delayMs?: number,
  ) {
    super(failure instanceof Error ? failure.message : String(failure));
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
  /**
   * Attempts of one message before an unexpected error sends it to the DLQ. Unset (the default): retried
   * without limit, its partition paused between attempts — an outage delays work, it never dead-letters it.
   */
  maxAttempts?: number;
  /** Back-off between attempts of a failing message: doubles from `initialMs` up to `maxMs`. */
  retryBackoff?: { initialMs: number; maxMs: number };
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
  /** A fetch's long poll (kafkajs default 5 s); a paused partition is fetched again at the next poll after its resume. */
  maxWaitTimeInMs?: number;
}

export type MessageOutcome = 'applied' | 'dlq';

/** A partition held back while its first unhandled message waits for another attempt. */
export interface PausedPartition {
  topic: string;
  partition: number;
  /** When the partition was first paused for this message (epoch ms). */
  since: number;
  attempts: number;
}

const DEFAULT_RETRY_BACKOFF = { initialMs: 200, maxMs: 30_000 };
const DEFAULT_HEARTBEAT_INTERVAL_MS = 3000;
/** Tries of a failing message within its batch before its partition is paused between attempts. */
const QUICK_ATTEMPTS = 3;

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
  private readonly paused = new Map<string, PausedPartition & { timer?: NodeJS.Timeout }>();

  constructor(private readonly opts: ConsumerRunnerOptions) {}

  private stopped = false;

  async start(): Promise<void> {
    const { kafka } = this.opts;
    await ensureTopics(kafka, [...this.opts.topics, this.opts.dlqTopic], 8);
    this.producer = createProducer(kafka);
    await this.producer.connect();
    await this.startConsumer();
  }

  private async startConsumer(): Promise<void> {
    const { kafka, groupId } = this.opts;
    await this.consumer?.disconnect().catch(() => undefined);
    this.consumer = kafka.consumer({
      groupId,
      sessionTimeout: this.opts.sessionTimeout ?? 30000,
      heartbeatInterval: this.opts.heartbeatInterval ?? DEFAULT_HEARTBEAT_INTERVAL_MS,
      ...(this.opts.maxWaitTimeInMs !== undefined ? { maxWaitTimeInMs: this.opts.maxWaitTimeInMs } : {}),
      retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5000, restartOnFailure: async () => true },
    });
    reviveOnFatalCrash(this.consumer, { name: `consumer group ${groupId}`, start: () => this.startConsumer(), stopped: () => this.stopped, logger: this.opts.logger });
    await this.consumer.connect();
    for (const topic of this.opts.topics) await this.consumer.subscribe({ topic, fromBeginning: this.opts.fromBeginning ?? true });
    // A partition that moved to another member is no longer ours to report as paused. kafkajs keeps its pause
    // across assignments, so it is resumed too: if it comes back to this member, it must be fetched again.
    const consumer = this.consumer;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      for (const [key, held] of this.paused) {
        if (payload.memberAssignment[held.topic]?.includes(held.partition)) continue;
        clearTimeout(held.timer);
        this.paused.delete(key);
        consumer.resume([{ topic: held.topic, partitions: [held.partition] }]);
      }
    });
    await this.consumer.run({
      autoCommit: true,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently ?? 4,
      eachBatch: (payload) => this.handleBatch(payload),
    });
  }

  /**
   * One fetched batch. kafkajs heartbeats only when asked: one long provider call or store write must not make a live
   * member look dead, so a keep-alive heartbeats while the batch works. A rebalance it learns of reaches the handler
   * at its next heartbeat (kafkajs would skip that one as too soon).
   */
  private async handleBatch({ batch, resolveOffset, heartbeat: batchHeartbeat, commitOffsetsIfNecessary, isRunning, isStale, pause }: EachBatchPayload): Promise<void> {
    let missed: unknown;
    const keepAlive = setInterval(() => void batchHeartbeat().catch((err) => (missed ??= err)), this.opts.heartbeatInterval ?? DEFAULT_HEARTBEAT_INTERVAL_MS);
    const heartbeat = async (): Promise<void> => {
      if (missed !== undefined) throw missed;
      await batchHeartbeat();
    };
    try {
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
      if (done.size) {
        try {
          await this.opts.afterBatch?.();
        } catch (err) {
          // What the batch buffered (replies) did not leave: nothing of it is committed, all of it comes again.
          done.clear();
          const attempts = (this.failures.get(`${batch.topic}/${batch.partition}/after-batch`) ?? 0) + 1;
          this.failures.set(`${batch.topic}/${batch.partition}/after-batch`, attempts);
          failure = new RetryLaterError(attempts, err);
        }
      }
      // Offsets are committed only up to the first message not handled: the rest come again (handlers are idempotent).
      let firstUnhandled: KafkaMessage | undefined;
      for (const m of batch.messages) {
        if (!done.has(m.offset)) {
          firstUnhandled = m;
          break;
        }
        resolveOffset(m.offset);
      }
      await commitOffsetsIfNecessary();
      await heartbeat();
      const key = `${batch.topic}/${batch.partition}`;
      if (failure === undefined) {
        this.failures.delete(`${key}/after-batch`);
        if (!firstUnhandled) this.paused.delete(key);
        return;
      }
      if (!(failure instanceof RetryLaterError)) throw failure;
      // The partition waits without holding the others (or the group's heartbeats); the next fetch after
      // the resume starts at the first message not handled, since nothing at or after it was resolved.
      const resume = pause();
      const attempts = failure.attempts;
      const since = this.paused.get(key)?.since ?? Date.now();
      const delay = failure.delayMs ?? Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** Math.min(attempts - 1, 20));
      const timer = setTimeout(resume, delay);
      this.paused.set(key, { topic: batch.topic, partition: batch.partition, since, attempts, timer });
    } finally {
      clearInterval(keepAlive);
    }
  }

  private get backoff() {
    return this.opts.retryBackoff ?? DEFAULT_RETRY_BACKOFF;
  }

  /** Partitions waiting to try a failing message again (for metrics: how many, and since when). */
  pausedPartitions(): PausedPartition[] {
    return [...this.paused.values()].map(({ topic, partition, since, attempts }) => ({ topic, partition, since, attempts }));
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
      // A blip (a conflict, a dropped connection) passes within a few quick tries; longer trouble pauses the partition.
      for (let quick = 1; ; quick++) {
        try {
          await this.apply(inbound);
          break;
        } catch (err) {
          if (quick >= QUICK_ATTEMPTS || err instanceof PoisonMessageError || err instanceof DeferMessageError) throw err;
          await new Promise((r) => setTimeout(r, this.backoff.initialMs * 2 ** (quick - 1)));
        }
      }
      this.failures.delete(id);
    } catch (err) {
      if (err instanceof DeferMessageError) {
        this.opts.logger?.log('message deferred', { topic, partition, offset: message.offset, afterMs: err.afterMs, reason: err.reason });
        throw new RetryLaterError(this.failures.get(id) ?? 0, err, err.afterMs);
      }
      // Anything but poison (a dead store, broker or network; a bug) is tried again, never dropped.
      const attempts = (this.failures.get(id) ?? 0) + 1;
      this.failures.set(id, attempts);
      const max = this.opts.maxAttempts;
      if (max !== undefined && attempts >= max) {
        await this.deadLetter(inbound, 'handler_failed', `${attempts} attempts: ${(err as Error).message}`).catch((dlqErr) => {
          throw new RetryLaterError(attempts, dlqErr);
        });
        this.failures.delete(id);
        return;
      }
      this.opts.logger?.warn(`handler failed, will retry (attempt ${attempts}${max ? `/${max}` : ''})`, { topic, partition, offset: message.offset, error: (err as Error).message });
      throw new RetryLaterError(attempts, err);
    }
  }

  /** The handler's effect, or the poison's trip to the dead-letter topic. */
  private async apply(inbound: InboundMessage): Promise<void> {
    try {
      await this.opts.handle(inbound);
      this.opts.onOutcome?.(inbound.topic, 'applied');
    } catch (err) {
      if (!(err instanceof PoisonMessageError)) throw err;
      await this.deadLetter(inbound, err.reason, err.message);
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
    this.stopped = true;
    for (const held of this.paused.values()) clearTimeout(held.timer);
    this.paused.clear();
    await this.consumer?.disconnect().catch(() => undefined);
    await this.producer?.disconnect().catch(() => undefined);
  }
}
