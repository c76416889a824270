import type { Kafka, Producer } from 'kafkajs';
import { createTestTopics, testKafka, uniqueName, waitFor } from '@pushledger/testing';
import { ConsumerRunner, DeferMessageError, InboundMessage } from './consumer-runner';

/** The dead-letter threshold this runner had before: a failure outliving it must still not reach the DLQ. */
const OLD_ATTEMPT_LIMIT = 10;

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

  /** Message `x` alone on partition 0, the `ys` on partition 1: whatever holds x back must not hold them. */
  async function xBesideYs(ys: string[]): Promise<{ topic: string; dlq: string }> {
    topics = await createTestTopics(kafka, ['runner', 'runner.dlq'], 2);
    const [topic, dlq] = topics.topics;
    await producer.send({ topic, acks: -1, messages: [{ key: 'x', value: 'x', partition: 0 }, ...ys.map((v) => ({ key: v, value: v, partition: 1 }))] });
    return { topic, dlq };
  }

  /** A failure's back-off is 10–100 ms here, far shorter than any deferral a test asks for. */
  function quickRetryRunner(topic: string, dlq: string, handle: (m: InboundMessage) => Promise<void>): ConsumerRunner {
    return new ConsumerRunner({ kafka, groupId: uniqueName('runner'), topics: [topic], dlqTopic: dlq, retryBackoff: { initialMs: 10, maxMs: 100 }, maxWaitTimeInMs: 100, handle });
  }

  async function dlqHighOffsets(dlq: string): Promise<string[]> {
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(dlq);
    await admin.disconnect();
    return offsets.map((p) => p.high);
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

  it('retries a failing effect past any fixed limit with only its partition paused, never dead-letters it, and reports the pause', async () => {
    const { topic, dlq } = await xBesideYs(['y1', 'y2', 'y3']);
    let attemptsOfX = 0;
    let released = false;
    const handled: string[] = [];
    runner = quickRetryRunner(topic, dlq, async (m) => {
      const v = m.value!.toString();
      if (v === 'x' && !released) {
        attemptsOfX++;
        throw new Error('the store is away (transient)');
      }
      handled.push(v);
    });
    await runner.start();
    await waitFor(async () => attemptsOfX > OLD_ATTEMPT_LIMIT + 2 && handled.length === 3, { what: 'x failing past the old limit while partition 1 moves on' });
    expect(handled).toEqual(['y1', 'y2', 'y3']);
    const paused = runner.pausedPartitions();
    expect(paused.map((p) => [p.topic, p.partition])).toEqual([[topic, 0]]);
    expect(paused[0].attempts).toBeGreaterThan(1);

    released = true;
    await waitFor(async () => handled.includes('x'), { what: 'x handled once the store is back' });
    await waitFor(async () => runner!.pausedPartitions().length === 0, { what: 'the pause to end' });
    expect(await dlqHighOffsets(dlq)).toEqual(['0', '0']);
  });
  it('a deferred message comes back once after its wait, with only its partition paused, no quick retries and nothing dead-lettered', async () => {
    const { topic, dlq } = await xBesideYs(['y1', 'y2']);
    const triesOfX: number[] = [];
    const handled: string[] = [];
    let pausedWhileWaiting: [string, number][] = [];
    // Coming back after 1.5 s, not after the failure back-off, shows the deferral ran.
    runner = quickRetryRunner(topic, dlq, async (m) => {
      const v = m.value!.toString();
      if (v === 'x') {
        triesOfX.push(Date.now());
        if (triesOfX.length === 1) throw new DeferMessageError(1500, 'retry_after');
        // Still reported until the message is through: the partition held back for it, and only that one.
        pausedWhileWaiting = runner!.pausedPartitions().map((p) => [p.topic, p.partition]);
      }
      handled.push(v);
    });
    await runner.start();
    await waitFor(async () => handled.includes('x') && handled.length === 3, { what: 'x handled after its wait, and partition 1 too' });
    expect(pausedWhileWaiting).toEqual([[topic, 0]]);
    expect(triesOfX).toHaveLength(2);
    expect(triesOfX[1] - triesOfX[0]).toBeGreaterThanOrEqual(1500);
    expect(handled.filter((v) => v === 'x')).toHaveLength(1);
    expect(await dlqHighOffsets(dlq)).toEqual(['0', '0']);
  });

  it('a deferred partition taken away by a rebalance and given back is fetched again, not left paused with no timer to resume it', async () => {
    topics = await createTestTopics(kafka, ['runner', 'runner.dlq'], 2);
    const [topic, dlq] = topics.topics;
    await producer.send({ topic, acks: -1, messages: [0, 1].map((partition) => ({ key: `hold-${partition}`, value: `hold-${partition}`, partition })) });
    const groupId = uniqueName('runner');
    const deferredByA = new Set<number>();
    const handledByA: string[] = [];
    // A defers both partitions for 10 minutes: only a partition it was given back and fetches again can move sooner.
    runner = new ConsumerRunner({ kafka, groupId, topics: [topic], dlqTopic: dlq, maxWaitTimeInMs: 100, handle: async (m) => {
      const v = m.value!.toString();
      if (v.startsWith('hold-')) {
        deferredByA.add(m.partition);
        throw new DeferMessageError(600_000, 'test');
      }
      handledByA.push(v);
    } });
    await runner.start();
    await waitFor(async () => deferredByA.size === 2, { what: 'A to defer both partitions' });
    const handledByB: { value: string; partition: number }[] = [];
    const b = new ConsumerRunner({ kafka, groupId, topics: [topic], dlqTopic: dlq, maxWaitTimeInMs: 100, handle: async (m) => {
      handledByB.push({ value: m.value!.toString(), partition: m.partition });
    } });
    await b.start();
    try {
      await waitFor(async () => handledByB.length > 0, { what: 'B to be given one of the partitions', timeoutMs: 60000 });
    } finally {
      await b.stop();
    }
    const moved = handledByB[0].partition;
    await producer.send({ topic, acks: -1, messages: [{ key: 'after', value: 'after', partition: moved }] });
    await waitFor(async () => handledByA.includes('after'), { what: `A to fetch partition ${moved} again once B has left`, timeoutMs: 60000 });
    expect(handledByA).toEqual(['after']);
  });
});
