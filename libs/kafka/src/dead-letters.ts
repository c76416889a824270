import type { Admin, IHeaders, Kafka } from 'kafkajs';
import { groupFor } from '@pushledger/contracts';
import { createProducer } from './kafka.factory';

/** The consumer group whose committed offsets mark how far a dead-letter topic has been redriven. */
export const REDRIVE_GROUP = 'pushledger-dlq-redrive';

const DLQ_HEADER = /^dlq-/;

export interface DeadLetterSummary {
  topic: string;
  /** Messages not redriven yet. */
  depth: number;
  /** Of those, how many per `dlq-reason` (read up to `maxRead` messages). */
  reasons: Record<string, number>;
}

interface Span {
  partition: number;
  from: bigint;
  end: bigint;
}

/**
 * Dead-letter topics are append-only: "depth" is what lies past the redrive group's committed offsets,
 * and a redrive puts messages back on their source topic (`dlq-source-topic`) before moving that mark.
 */
export class DeadLetters {
  constructor(
    private readonly kafka: Kafka,
    private readonly suffix = '',
  ) {}

  private get group(): string {
    return groupFor(REDRIVE_GROUP, this.suffix);
  }

  private async spans(admin: Admin, topic: string): Promise<Span[]> {
    const [ends, [committed]] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId: this.group, topics: [topic] })]);
    return ends.map((p) => {
      const mark = committed?.partitions.find((c) => c.partition === p.partition)?.offset ?? '-1';
      const low = BigInt(p.low);
      const from = mark === '-1' || BigInt(mark) < low ? low : BigInt(mark);
      return { partition: p.partition, from, end: BigInt(p.high) };
    });
  }

  /** Messages of each topic not redriven yet (0 for a topic that does not exist). */
  async depths(topics: string[]): Promise<Record<string, number>> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const out: Record<string, number> = {};
      for (const topic of topics) {
        out[topic] = existing.has(topic) ? (await this.spans(admin, topic)).reduce((n, s) => n + Number(s.end > s.from ? s.end - s.from : 0n), 0) : 0;
      }
      return out;
    } finally {
      await admin.disconnect();
    }
  }

  /** Depth and reasons of each topic, reading at most `maxRead` pending messages per topic. */
  async list(topics: string[], maxRead = 10_000): Promise<DeadLetterSummary[]> {
    const depths = await this.depths(topics);
    const out: DeadLetterSummary[] = [];
    for (const topic of topics) {
      const reasons: Record<string, number> = {};
      if (depths[topic] > 0) {
        await this.read(topic, maxRead, async (messages) => {
          for (const m of messages) {
            const reason = header(m.headers, 'dlq-reason') ?? 'unknown';
            reasons[reason] = (reasons[reason] ?? 0) + 1;
          }
          return false;
        });
      }
      out.push({ topic, depth: depths[topic], reasons });
    }
    return out;
  }

  /**
   * Puts up to `limit` pending messages of a dead-letter topic back on their source topics (key, value and
   * headers as they were, without the dlq-* ones), then moves the redrive mark past them. A crash between
   * the two sends them again: the consumers are idempotent.
   */
  async redrive(topic: string, limit = Number.MAX_SAFE_INTEGER): Promise<{ redriven: number; bySource: Record<string, number> }> {
    const producer = createProducer(this.kafka);
    await producer.connect();
    const bySource: Record<string, number> = {};
    let redriven = 0;
    try {
      await this.read(topic, limit, async (messages) => {
        const byTopic = new Map<string, { key: Buffer | null; value: Buffer | null; headers: IHeaders }[]>();
        for (const m of messages) {
          const source = header(m.headers, 'dlq-source-topic');
          if (!source) throw new Error(`${topic} offset ${m.offset} has no dlq-source-topic header: cannot redrive it`);
          const headers: IHeaders = {};
          for (const [k, v] of Object.entries(m.headers ?? {})) if (!DLQ_HEADER.test(k) && v !== undefined) headers[k] = v;
          const list = byTopic.get(source) ?? [];
          list.push({ key: m.key, value: m.value, headers });
          byTopic.set(source, list);
        }
        await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([t, msgs]) => ({ topic: t, messages: msgs })) });
        for (const [t, msgs] of byTopic) bySource[t] = (bySource[t] ?? 0) + msgs.length;
        redriven += messages.length;
        return true;
      });
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
    return { redriven, bySource };
  }

  /**
   * Reads up to `limit` messages past the redrive mark, handing them over in chunks; when `visit` answers
   * true the mark moves past the chunk. The reading is done by a throwaway group started at the mark.
   */
  private async read(topic: string, limit: number, visit: (messages: DlqMessage[]) => Promise<boolean>): Promise<void> {
    const readerGroup = `${this.group}-reader-${process.pid}-${Date.now()}`;
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const spans = (await this.spans(admin, topic)).filter((s) => s.end > s.from);
      if (!spans.length || limit <= 0) return;
      await admin.setOffsets({ groupId: readerGroup, topic, partitions: spans.map((s) => ({ partition: s.partition, offset: s.from.toString() })) });
      await this.readSpans(topic, readerGroup, spans, limit, visit);
    } finally {
      await admin.deleteGroups([readerGroup]).catch(() => undefined);
      await admin.disconnect();
    }
  }

  private async readSpans(topic: string, readerGroup: string, spans: Span[], limit: number, visit: (messages: DlqMessage[]) => Promise<boolean>): Promise<void> {
    const reader = this.kafka.consumer({ groupId: readerGroup, maxWaitTimeInMs: 200 });
    await reader.connect();
    let left = limit;
    const pending = new Map(spans.map((s) => [s.partition, s]));
    let failed: unknown;
    try {
      await reader.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        reader
          .run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              const span = pending.get(batch.partition);
              if (!span || left <= 0) return;
              const chunk: DlqMessage[] = [];
              for (const m of batch.messages) {
                const offset = BigInt(m.offset);
                if (offset < span.from) continue;
                if (offset >= span.end || left <= 0) break;
                chunk.push({ offset: m.offset, key: m.key, value: m.value, headers: m.headers ?? {} });
                left--;
              }
              try {
                if (chunk.length && (await visit(chunk))) await this.commitMark(topic, batch.partition, (BigInt(chunk[chunk.length - 1].offset) + 1n).toString());
              } catch (err) {
                failed = err;
                left = 0;
              }
              if (chunk.length) span.from = BigInt(chunk[chunk.length - 1].offset) + 1n;
              if (span.from >= span.end) pending.delete(batch.partition);
              if (left <= 0 || pending.size === 0) resolve();
            },
          })
          .catch(reject);
      });
    } finally {
      await reader.disconnect().catch(() => undefined);
    }
    if (failed) throw failed;
  }

  private async commitMark(topic: string, partition: number, offset: string): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await admin.setOffsets({ groupId: this.group, topic, partitions: [{ partition, offset }] });
    } finally {
      await admin.disconnect();
    }
  }
}

interface DlqMessage {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
}

function header(headers: IHeaders | undefined, name: string): string | undefined {
  const v = headers?.[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? String(v[0]) : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}
