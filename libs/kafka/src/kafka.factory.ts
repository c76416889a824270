import { Kafka, KafkaConfig, logLevel, LogEntry, Partitioners, Producer, SASLOptions } from 'kafkajs';
import type { PushledgerConfig } from '@pushledger/config';
import type { LoggerService } from '@nestjs/common';

/** Replication of the topics we create. `-1`: the broker's defaults (`default.replication.factor`, its `min.insync.replicas`). */
export interface TopicPlacement {
  replicationFactor: number;
  minInsyncReplicas?: number;
}

const BROKER_DEFAULTS: TopicPlacement = { replicationFactor: -1 };

/** Each client made by createKafka carries its config's placement, so every ensureTopics of a process follows the config. */
const placements = new WeakMap<Kafka, TopicPlacement>();

export function topicPlacement(kafka: Kafka): TopicPlacement {
  return placements.get(kafka) ?? BROKER_DEFAULTS;
}

/** How a client reaches the brokers: addresses, TLS (with the configured CA) and SASL. */
export function kafkaConnection(kafka: PushledgerConfig['kafka']): Pick<KafkaConfig, 'brokers' | 'ssl' | 'sasl'> {
  const { ssl, sasl } = kafka;
  return {
    brokers: kafka.brokers,
    ...(ssl ? { ssl: ssl.ca ? { ca: [ssl.ca] } : true } : {}),
    ...(sasl ? { sasl: { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password } as SASLOptions } : {}),
  };
}

/**
 * Idempotent, one request in flight: per-key order holds across retries. A broker that lost the producer's
 * state (killed mid-produce) answers every later send with OUT_OF_ORDER_SEQUENCE_NUMBER or the like, for
 * good: such a failure replaces the underlying producer (a new producer id) before it is thrown, so the
 * caller's retry goes through.
 */
export function createProducer(kafka: Kafka): Producer {
  return new HealingProducer(() => kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner })) as unknown as Producer;
}

const LOST_PRODUCER_STATE = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING']);

export function lostProducerState(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 5) return false;
  const e = err as { type?: string; message?: string; cause?: unknown; originalError?: unknown; errors?: unknown[] };
  if (e.type && LOST_PRODUCER_STATE.has(e.type)) return true;
  if (typeof e.message === 'string' && /out of order sequence number/i.test(e.message)) return true;
  return [e.cause, e.originalError, ...(Array.isArray(e.errors) ? e.errors : [])].some((inner) => lostProducerState(inner, depth + 1));
}

/** The parts of kafkajs' Producer our code uses (connect, send, sendBatch, disconnect), over a replaceable producer. */
class HealingProducer {
  private inner: Producer;
  private replacing?: Promise<void>;

  constructor(private readonly make: () => Producer) {
    this.inner = make();
  }

  connect(): Promise<void> {
    return this.inner.connect();
  }

  disconnect(): Promise<void> {
    return this.inner.disconnect();
  }

  send(record: Parameters<Producer['send']>[0]): ReturnType<Producer['send']> {
    return this.healing(() => this.inner.send(record));
  }

  sendBatch(batch: Parameters<Producer['sendBatch']>[0]): ReturnType<Producer['sendBatch']> {
    return this.healing(() => this.inner.sendBatch(batch));
  }

  private async healing<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if (lostProducerState(err)) await this.replace();
      throw err;
    }
  }

  private replace(): Promise<void> {
    this.replacing ??= (async () => {
      const old = this.inner;
      this.inner = this.make();
      await old.disconnect().catch(() => undefined);
      await this.inner.connect();
    })().finally(() => (this.replacing = undefined));
    return this.replacing;
  }
}

/** The one way our processes make a Kafka client. `overrides`: client tuning (log level, retries), not where or how to connect. */
export function createKafka(config: PushledgerConfig, clientId: string, logger?: LoggerService, overrides: Omit<Partial<KafkaConfig>, 'brokers' | 'ssl' | 'sasl'> = {}): Kafka {
  const kafka = new Kafka({
    clientId,
    ...kafkaConnection(config.kafka),
    logLevel: logLevel.WARN,
    retry: { initialRetryTime: 200, retries: 12, maxRetryTime: 5000 },
    logCreator: () => (entry: LogEntry) => {
      if (!logger) return;
      const { message, ...rest } = entry.log;
      // Said once per idempotent producer; our producers retry through the client's retry policy on purpose.
      if (message.startsWith('Limiting retries for the idempotent producer')) return;
      if (entry.level <= logLevel.ERROR) logger.error(`kafka: ${message}`, rest);
      else logger.warn?.(`kafka: ${message}`, rest);
    },
    ...overrides,
  });
  placements.set(kafka, { replicationFactor: config.kafka.replicationFactor, minInsyncReplicas: config.kafka.minInsyncReplicas });
  return kafka;
}

/**
 * Creates the topics that are missing (with the client's placement, see createKafka) and waits until every
 * partition has a leader. Topics that exist keep theirs: raising a replication factor is a reassignment.
 * `numPartitions` -1: the broker's default.
 */
export async function ensureTopics(kafka: Kafka, topics: string[], numPartitions = 4, placement: TopicPlacement = topicPlacement(kafka)): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t));
    if (missing.length) {
      // kafkajs' own wait for leaders gives up on a topic another process created a moment ago; the loop below waits instead.
      const configEntries = placement.minInsyncReplicas ? [{ name: 'min.insync.replicas', value: String(placement.minInsyncReplicas) }] : [];
      await admin.createTopics({ waitForLeaders: false, topics: missing.map((topic) => ({ topic, numPartitions, replicationFactor: placement.replicationFactor, configEntries })) }).catch((err: Error) => {
        if (/already exists/i.test(err.message) || (err as { type?: string }).type === 'TOPIC_ALREADY_EXISTS') return;
        // kafkajs says "Topic creation errors" and keeps the broker's reasons (e.g. a replication factor above the broker count) inside.
        const inner = (err as { errors?: { type?: string; message?: string }[] }).errors;
        if (!inner?.length) throw err;
        const asked = `replication factor ${placement.replicationFactor}${placement.minInsyncReplicas ? `, min.insync.replicas ${placement.minInsyncReplicas}` : ''}`;
        throw new Error(`creating Kafka topics with ${asked} failed: ${inner.map((e) => `${e.type ?? 'error'}: ${e.message ?? ''}`).join('; ')}`);
      });
    }
    // Another service may have created a topic a moment ago: wait until every partition has a leader that
    // serves it (metadata names a leader before the broker answers as one: ListOffsets tells).
    const deadline = Date.now() + 30000;
    for (;;) {
      const ready = await admin
        .fetchTopicMetadata({ topics })
        .then((m) => m.topics.length === topics.length && m.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0)))
        .then(async (led) => led && (await Promise.all(topics.map((t) => admin.fetchTopicOffsets(t)))).length === topics.length)
        .catch(() => false);
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`topics not ready after 30 s: ${topics.join(', ')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await admin.disconnect();
  }
}
