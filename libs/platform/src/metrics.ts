import { Registry, collectDefaultMetrics, Counter, Gauge, Histogram } from 'prom-client';
import type { PausedPartition } from '@pushledger/kafka';

/** One registry per process; metric labels never carry tokens or user ids. */
export const metricsRegistry = new Registry();
let defaultsCollected = false;
export function collectProcessMetrics(service: string): void {
  if (defaultsCollected) return;
  defaultsCollected = true;
  metricsRegistry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: metricsRegistry });
}

export const httpRequests = new Counter({ name: 'pushledger_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers: [metricsRegistry] });
export const httpDuration = new Histogram({
  name: 'pushledger_http_request_duration_seconds',
  help: 'HTTP request duration',
  labelNames: ['method', 'route'],
  buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [metricsRegistry],
});
export const messagesHandled = new Counter({ name: 'pushledger_kafka_messages_total', help: 'Kafka messages handled by topic and outcome', labelNames: ['topic', 'outcome'], registers: [metricsRegistry] });

/** What the Kafka gauges read: the service's handlers and its dead-letter topics. */
export interface KafkaHandlersSource {
  pausedPartitions(): PausedPartition[];
  deadLetterTopics(): string[];
}

let kafkaSource: KafkaHandlersSource | undefined;
let dlqDepths: ((topics: string[]) => Promise<Record<string, number>>) | undefined;

/** Points the Kafka gauges at a service's transport (one per process). */
export function watchKafkaHandlers(source: KafkaHandlersSource, depths: (topics: string[]) => Promise<Record<string, number>>): void {
  kafkaSource = source;
  dlqDepths = depths;
}

new Gauge({
  name: 'pushledger_kafka_paused_partitions',
  help: 'Partitions waiting to try a failing message again (an outage or a bug holds them; nothing is dead-lettered)',
  labelNames: ['topic'],
  registers: [metricsRegistry],
  collect() {
    this.reset();
    for (const p of kafkaSource?.pausedPartitions() ?? []) this.inc({ topic: p.topic });
  },
});

new Gauge({
  name: 'pushledger_kafka_paused_partition_age_seconds',
  help: 'How long the longest-waiting paused partition of a topic has waited',
  labelNames: ['topic'],
  registers: [metricsRegistry],
  collect() {
    this.reset();
    const oldest = new Map<string, number>();
    for (const p of kafkaSource?.pausedPartitions() ?? []) oldest.set(p.topic, Math.min(oldest.get(p.topic) ?? Infinity, p.since));
    for (const [topic, since] of oldest) this.set({ topic }, (Date.now() - since) / 1000);
  },
});

new Gauge({
  name: 'pushledger_kafka_dlq_depth',
  help: 'Messages in a dead-letter topic this service writes to, not redriven yet (npm run dlq -- list)',
  labelNames: ['topic'],
  registers: [metricsRegistry],
  async collect() {
    this.reset();
    if (!kafkaSource || !dlqDepths) return;
    // Kafka away: no figure rather than a wrong one (the health check says why).
    const depths = await dlqDepths(kafkaSource.deadLetterTopics()).catch(() => ({}) as Record<string, number>);
    for (const [topic, depth] of Object.entries(depths)) this.set({ topic }, depth);
  },
});
