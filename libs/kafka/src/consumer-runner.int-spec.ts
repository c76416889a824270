import type { Kafka, Producer } from 'kafkajs';
import { createTestTopics, testKafka, uniqueName, waitFor } from '@pushledger/testing';
import { ConsumerRunner, InboundMessage } from './consumer-runner';

const KEYS = ['a', 'b', 'c', 'd'];
const PER_KEY = 25;

describe('ConsumerRunner batches (real Kafka)', () => {
  let kafka: Kafka;
  let producer: Producer;
  let topics: { topics: string[]; drop(): Promise<void> };
  let runner: ConsumerRunner | undefined;

  beforeAll(async () => {
    kafka = testKafka();
    producer = kafka.producer();
    await producer.connect();
  });
  afterEach(async () => {
    await runner?.stop();
    runner = undefined;
    await topics?.drop();
  });
  afterAll(async () => {
    await producer.disconnect();
  });

  async function publishAll(topic: string): Promise<void> {
    // Interleaved keys in one partition: one fetched batch holds every lane.
    const messages = Array.from({ length: PER_KEY }, (_, i) => KEYS.map((key) => ({ key, value: `${key}:${i}`, partition: 0 }))).flat();
    await producer.send({ topic, acks: -1, messages });
  }

  it('handles the lanes of a batch at once, each key in order, and sends what afterBatch buffered before committing', async () => {
    topics = await createTestTopics(kafka, ['runner', 'runner.dlq'], 1);
    const [topic, dlq] = topics.topics;
    await publishAll(topic);
    const seen = new Map<string, number[]>();
    let inFlight = 0;
    let maxInFlight = 0;
    let afterBatches = 0;
    let handledAtFirstAfterBatch = -1;
    let handled = 0;
    runner = new ConsumerRunner({
      kafka,
      groupId: uniqueName('runner'),
      topics: [topic],
      dlqTopic: dlq,
      keyConcurrency: 8,
      afterBatch: async () => {
        afterBatches++;
        if (handledAtFirstAfterBatch < 0) handledAtFirstAfterBatch = handled;
      },
      handle: async (m: InboundMessage) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setImmediate(r));
        const [key, n] = m.value!.toString().split(':');
        seen.set(key, [...(seen.get(key) ?? []), Number(n)]);
        handled++;
        inFlight--;
      },
    });
    await runner.start();
    await waitFor(async () => handled >= KEYS.length * PER_KEY, { what: 'every message handled' });
    for (const key of KEYS) expect(seen.get(key)).toEqual(Array.from({ length: PER_KEY }, (_, i) => i));
    expect(maxInFlight).toBeGreaterThan(1);
    expect(maxInFlight).toBeLessThanOrEqual(8);
    expect(afterBatches).toBeGreaterThan(0);
    expect(handledAtFirstAfterBatch).toBeGreaterThan(1);
  });

  it('a failing message is retried in its lane, and the messages after it in that lane wait for it', async () => {
    topics = await createTestTopics(kafka, ['runner', 'runner.dlq'], 1);
    const [topic, dlq] = topics.topics;
    await publishAll(topic);
    const seen = new Map<string, number[]>();
    let failed = false;
    runner = new ConsumerRunner({
      kafka,
      groupId: uniqueName('runner'),
      topics: [topic],
      dlqTopic: dlq,
      keyConcurrency: 8,
      handle: async (m: InboundMessage) => {
        const [key, n] = m.value!.toString().split(':');
        if (key === 'b' && n === '5' && !failed) {
          failed = true;
          throw new Error('transient');
        }
        const list = seen.get(key) ?? [];
        // Messages handled again after the retry (other lanes past the failure) are idempotent no-ops here.
        if (!list.includes(Number(n))) list.push(Number(n));
        seen.set(key, list);
      },
    });
    await runner.start();
    await waitFor(async () => KEYS.every((k) => (seen.get(k)?.length ?? 0) === PER_KEY), { what: 'every message handled once' });
    expect(failed).toBe(true);
    for (const key of KEYS) expect(seen.get(key)).toEqual(Array.from({ length: PER_KEY }, (_, i) => i));
  });
});
