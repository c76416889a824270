/**
 * Relay: store → Kafka, at least once, in per-stream order.
 *
 * Driven by a store subscription; the durable checkpoint moves only after Kafka has acknowledged a batch
 * (acks=-1), so a crash anywhere re-sends from the last checkpoint: duplicates are possible, losses are
 * not. The producer is idempotent with one request in flight per broker, so a retried request cannot
 * overtake the next one, and each message is keyed by stream id: one partition per stream, revision order.
 */
import { StreamCategories, Topics } from '@pushledger/contracts';
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { CheckpointStore, EventStore, StoredEvent, Subscription } from './event-store.port';

export interface RelayMessage {
  key: string;
  value: string;
  headers: Record<string, string>;
}

export interface RelayPublisher {
  /** Resolves only once every message is acknowledged by the broker(s). */
  publish(messages: RelayMessage[]): Promise<void>;
  close(): Promise<void>;
}

export interface RelayLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Lifecycle categories published to `Topics.deviceLifecycle`. */
export const LIFECYCLE_STREAM_PREFIXES = [StreamCategories.device, StreamCategories.user, StreamCategories.token].map((c) => `${c}-`);

/** The Kafka message for one stored event: bigints as strings, the rest of the envelope as stored. */
export function toRelayMessage(e: StoredEvent): RelayMessage {
  const envelope = {
    eventId: e.eventId,
    type: e.type,
    stream: e.stream,
    streamRevision: e.streamRevision.toString(),
    position: e.position.toString(),
    data: e.data,
    metadata: e.metadata,
  };
  const headers: Record<string, string> = {
    'event-id': e.eventId,
    'event-type': e.type,
    stream: e.stream,
    'stream-revision': envelope.streamRevision,
    position: envelope.position,
    'content-type': 'application/json',
  };
  const m = e.metadata ?? {};
  if (typeof m.correlationId === 'string') headers['correlation-id'] = m.correlationId;
  if (typeof m.causationId === 'string') headers['causation-id'] = m.causationId;
  if (typeof m.appId === 'string') headers['app-id'] = m.appId;
  if (m.schemaVersion !== undefined) headers['schema-version'] = String(m.schemaVersion);
  return { key: e.stream, value: JSON.stringify(envelope), headers };
}

export interface KafkaRelayPublisherOptions {
  /** From createKafka (@pushledger/kafka): brokers, TLS and SASL come from the config. */
  kafka: Kafka;
  topic?: string;
  /** Messages per produce request. */
  maxBatchMessages?: number;
  /** How long one chunk is retried on retriable broker errors before publish fails. */
  retryForMs?: number;
}

export class KafkaRelayPublisher implements RelayPublisher {
  private constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly maxBatchMessages: number,
    private readonly retryForMs: number,
  ) {}

  static async connect(options: KafkaRelayPublisherOptions): Promise<KafkaRelayPublisher> {
    const producer = options.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      // Java-compatible murmur2 on the key, so other clients agree on a stream's partition.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    return new KafkaRelayPublisher(producer, options.topic ?? Topics.deviceLifecycle, options.maxBatchMessages ?? 1000, options.retryForMs ?? 60_000);
  }

  async publish(messages: RelayMessage[]): Promise<void> {
    // Sequential, awaited sends: a later chunk never races an earlier one for the same key.
    for (let i = 0; i < messages.length; i += this.maxBatchMessages) {
      await this.sendChunk(messages.slice(i, i + this.maxBatchMessages));
    }
  }

  /**
   * A broker that has just started can list a partition leader before it hosts the partition, and answers
   * "This server does not host this topic-partition" for longer than kafkajs' own retries last. Such errors
   * are retriable: the chunk is sent again (at least once, as everywhere in the relay) for a bounded time.
   */
  private async sendChunk(chunk: RelayMessage[]): Promise<void> {
    const until = Date.now() + this.retryForMs;
    for (let wait = 250; ; wait = Math.min(wait * 2, 5_000)) {
      try {
        await this.producer.send({ topic: this.topic, acks: -1, messages: chunk });
        return;
      } catch (err) {
        if (!isRetriable(err) || Date.now() + wait > until) throw err;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}

/** kafkajs marks retriable errors; "retries exceeded" wraps the last one. */
export function isRetriable(err: unknown): boolean {
  const e = err as { retriable?: boolean; name?: string; cause?: unknown } | null;
  if (!e) return false;
  if (e.retriable === true) return true;
  return e.name === 'KafkaJSNumberOfRetriesExceeded' && isRetriable(e.cause);
}

export interface RelayOptions {
  store: EventStore;
  publisher: RelayPublisher;
  /** Where the last relayed position is kept; defaults to the store's own checkpoint store. */
  checkpoints?: CheckpointStore;
  /** Checkpoint name. */
  name?: string;
  streamPrefixes?: string[];
  logger?: RelayLogger;
}

/**
 * The checkpoint is saved at most this often (and when the relay catches up or stops): each save is a
 * commit of its own, and a crash re-sends at most this much, which consumers absorb (they are idempotent).
 */
export const RELAY_CHECKPOINT_INTERVAL_MS = 200;

export class Relay {
  private subscription: Subscription | undefined;
  private relayed = 0;
  readonly name: string;
  private pending: bigint | undefined;
  private lastSave = 0;
  private saveTimer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();
  private checkpoints!: CheckpointStore;

  constructor(private readonly options: RelayOptions) {
    this.name = options.name ?? 'relay.device-lifecycle';
  }

  /** Resolves once the subscription is running; `done` settles when it stops or fails. */
  async start(): Promise<void> {
    if (this.subscription) throw new Error('relay already started');
    const checkpoints = (this.checkpoints = this.options.checkpoints ?? this.options.store.checkpoints);
    const from = await checkpoints.load(this.name);
    this.options.logger?.info('relay starting', { name: this.name, fromCheckpoint: from?.toString() ?? 'start' });
    this.subscription = this.options.store.subscribeToAll({
      fromCheckpoint: from,
      filter: { streamPrefixes: this.options.streamPrefixes ?? LIFECYCLE_STREAM_PREFIXES },
      onBatch: async (events) => {
        await this.options.publisher.publish(events.map(toRelayMessage));
        this.relayed += events.length;
        this.pending = events[events.length - 1].position;
        const wait = this.lastSave + RELAY_CHECKPOINT_INTERVAL_MS - Date.now();
        if (wait <= 0) await this.saveCheckpoint();
        else this.saveTimer ??= setTimeout(() => void this.saveCheckpoint().catch(() => undefined), wait);
      },
      onCaughtUp: () => {
        void this.saveCheckpoint().catch(() => undefined);
        this.options.logger?.info('relay caught up', { name: this.name, relayed: this.relayed });
      },
      onError: (err) => this.options.logger?.error('relay failed', { name: this.name, error: err.message }),
    });
  }

  get done(): Promise<void> {
    if (!this.subscription) throw new Error('relay not started');
    return this.subscription.done;
  }

  get relayedCount(): number {
    return this.relayed;
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
    await this.saveCheckpoint();
  }

  /** Saves what was acknowledged by Kafka last; one save at a time, in order. */
  private saveCheckpoint(): Promise<void> {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    this.saving = this.saving
      .catch(() => undefined)
      .then(async () => {
        const position = this.pending;
        if (position === undefined) return;
        this.pending = undefined;
        this.lastSave = Date.now();
        try {
          await this.checkpoints.save(this.name, position);
        } catch (err) {
          this.pending ??= position;
          throw err;
        }
      });
    return this.saving;
  }
}
