import { execFile } from 'child_process';
import * as path from 'path';
import { promisify } from 'util';
import type { Kafka, Producer } from 'kafkajs';
import { deadLetterTopics, topicsFor } from '@pushledger/contracts';
import { testKafka, uniqueName, waitFor } from '@pushledger/testing';
import { ConsumerRunner, InboundMessage, PoisonMessageError } from './consumer-runner';
import { DeadLetters } from './dead-letters';
import { ensureTopics } from './kafka.factory';

const repoRoot = path.resolve(__dirname, '../../..');

describe('Dead letters: depth, reasons and redrive (real Kafka)', () => {
  let kafka: Kafka;
  let producer: Producer;
  let runner: ConsumerRunner;
  const suffix = uniqueName('dlq');
  const topics = topicsFor(suffix);
  const source = topics.ingest;
  const dlq = topics.ingestDlq;
  /** Until the fix ships, messages marked `bad` are poison. */
  let fixed = false;
  const handled: { value: string; dlqHeaders: string[] }[] = [];

  beforeAll(async () => {
    kafka = testKafka();
    await ensureTopics(kafka, [source, dlq], 1);
    producer = kafka.producer();
    await producer.connect();
    runner = new ConsumerRunner({
      kafka,
      groupId: uniqueName('dlq-runner'),
      topics: [source],
      dlqTopic: dlq,
      handle: async (m: InboundMessage) => {
        const value = m.value!.toString();
        if (value.startsWith('bad') && !fixed) throw new PoisonMessageError('rejected_by_rule', `${value} breaks a rule`);
        handled.push({ value, dlqHeaders: Object.keys(m.headers).filter((h) => h.startsWith('dlq-')) });
      },
    });
    await runner.start();
  });

  afterAll(async () => {
    await runner?.stop();
    await producer?.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [source, dlq] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('lists depth and reasons, redrives with a limit onto the source topic, and never sends a message back twice', async () => {
    const letters = new DeadLetters(kafka, suffix);
    await producer.send({ topic: source, acks: -1, messages: ['bad-1', 'good-1', 'bad-2', 'bad-3'].map((value) => ({ key: 'k', value, headers: { 'app-id': 'app_dlq' } })) });
    await waitFor(async () => (await letters.depths([dlq]))[dlq] === 3, { what: 'three poison messages in the DLQ' });
    expect(handled.map((h) => h.value)).toEqual(['good-1']);

    const [summary] = await letters.list([dlq]);
    expect(summary).toEqual({ topic: dlq, depth: 3, reasons: { rejected_by_rule: 3 } });

    const { stdout } = await promisify(execFile)('node', [path.join(repoRoot, 'scripts/run.js'), 'dist/tools/dlq/main.js', 'list'], { cwd: repoRoot, env: { ...process.env, KAFKA_TOPIC_SUFFIX: suffix } });
    expect(stdout.split('\n')).toContain(`${dlq}\t3\trejected_by_rule=3`);
    expect(stdout.split('\n').filter(Boolean)).toHaveLength(deadLetterTopics(suffix).length);

    fixed = true;
    expect(await letters.redrive(dlq, 2)).toEqual({ redriven: 2, bySource: { [source]: 2 } });
    expect((await letters.depths([dlq]))[dlq]).toBe(1);
    await waitFor(async () => handled.length === 3, { what: 'the two redriven messages handled' });
    expect(handled.slice(1)).toEqual([
      { value: 'bad-1', dlqHeaders: [] },
      { value: 'bad-2', dlqHeaders: [] },
    ]);

    expect(await letters.redrive(dlq)).toEqual({ redriven: 1, bySource: { [source]: 1 } });
    expect(await letters.redrive(dlq)).toEqual({ redriven: 0, bySource: {} });
    await waitFor(async () => handled.length === 4, { what: 'the last one handled' });
    expect(handled.map((h) => h.value)).toEqual(['good-1', 'bad-1', 'bad-2', 'bad-3']);
    expect((await letters.depths([dlq]))[dlq]).toBe(0);
  });
});
