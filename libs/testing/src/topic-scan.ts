import { MessageSeal } from '@pushledger/kafka';
import { testConfig, testKafka, uniqueName, waitFor } from './engines';

/** A value between our services as they read it: opened with the stack's secret key where it is sealed. */
export function openedValue(env: Record<string, string>, value: string, kind: 'command' | 'reply' = 'command'): any {
  return new MessageSeal(testConfig({ PUSHLEDGER_SECRET_KEY: env.PUSHLEDGER_SECRET_KEY ?? '', PUSHLEDGER_SECRET_KEY_FILE: env.PUSHLEDGER_SECRET_KEY_FILE ?? '' }).secretKey, kind).open(value);
}

export interface ScannedMessage {
  topic: string;
  key: string;
  value: string;
  headers: string;
}

/** Every message (key, value, headers as text) of every topic of a namespace, or of the topics `which` keeps, up to their ends now. */
export async function scanTopics(suffix: string, which: (topic: string) => boolean = () => true): Promise<ScannedMessage[]> {
  const admin = testKafka().admin();
  await admin.connect();
  const ends = new Map<string, bigint>();
  let topics: string[];
  try {
    topics = (await admin.listTopics()).filter((t) => t.endsWith(`.${suffix}`) && which(t));
    for (const topic of topics) for (const p of await admin.fetchTopicOffsets(topic)) if (BigInt(p.high) > BigInt(p.low)) ends.set(`${topic}/${p.partition}`, BigInt(p.high));
  } finally {
    await admin.disconnect();
  }
  const messages: ScannedMessage[] = [];
  if (!ends.size) return messages;
  const reached = new Set<string>();
  const consumer = testKafka().consumer({ groupId: uniqueName('topic-scan') });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        const at = `${topic}/${partition}`;
        const end = ends.get(at);
        if (end === undefined || BigInt(message.offset) >= end) return;
        const headers = Object.entries(message.headers ?? {}).map(([k, v]) => `${k}=${Buffer.isBuffer(v) ? v.toString('latin1') : String(v)}`);
        messages.push({ topic, key: message.key?.toString('latin1') ?? '', value: message.value?.toString('latin1') ?? '', headers: headers.join('\n') });
        if (BigInt(message.offset) === end - 1n) reached.add(at);
      },
    });
    await waitFor(async () => reached.size === ends.size, { timeoutMs: 30000, what: `every message of ${ends.size} partitions` });
  } finally {
    await consumer.disconnect();
  }
  return messages;
}
