import { Kafka, logLevel, LogEntry, Partitioners, Producer } from 'kafkajs';
import type { PushledgerConfig } from '@pushledger/config';
import type { LoggerService } from '@nestjs/common';

/** Idempotent, one request in flight: per-key order holds across retries. */
export function createProducer(kafka: Kafka): Producer {
  return kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
}

export function createKafka(config: PushledgerConfig, clientId: string, logger?: LoggerService): Kafka {
  return new Kafka({
    clientId,
    brokers: config.kafka.brokers,
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
  });
}

export async function ensureTopics(kafka: Kafka, topics: string[], numPartitions = 4): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t));
    if (missing.length) {
      // kafkajs' own wait for leaders gives up on a topic another process created a moment ago; the loop below waits instead.
      await admin.createTopics({ waitForLeaders: false, topics: missing.map((topic) => ({ topic, numPartitions, replicationFactor: 1 })) }).catch((err: Error) => {
        if (!/already exists/i.test(err.message) && (err as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw err;
      });
    }
    // Another service may have created a topic a moment ago: wait until every partition has a leader.
    const deadline = Date.now() + 30000;
    for (;;) {
      const ready = await admin
        .fetchTopicMetadata({ topics })
        .then((m) => m.topics.length === topics.length && m.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0)))
        .catch(() => false);
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`topics not ready after 30 s: ${topics.join(', ')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await admin.disconnect();
  }
}
