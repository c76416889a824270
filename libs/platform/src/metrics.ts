import { Registry, collectDefaultMetrics, Counter, Histogram } from 'prom-client';

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
