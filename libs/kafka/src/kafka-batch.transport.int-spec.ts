import { randomUUID } from 'crypto';
import { INestMicroservice } from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import type { IHeaders, Kafka } from 'kafkajs';
import { groupFor, TopicMap, topicsFor } from '@pushledger/contracts';
import { testKafka, uniqueName, waitFor } from '@pushledger/testing';
import { ensureTopics } from './kafka.factory';
import { CommandClient, CommandEnvelope, CommandReply } from './request-reply';
import { PoisonMessageError } from './consumer-runner';
import { KafkaBatchContext, KafkaBatchTransport, KafkaController, KafkaHandlerOptions } from './kafka-batch.transport';

const COMMANDS: KafkaHandlerOptions = { group: 'kbt-commands', dlq: 'registrationCommandsDlq' };
const EVENTS: KafkaHandlerOptions = { group: 'kbt-events', dlq: 'ingestDlq', retryBackoff: { initialMs: 50, maxMs: 500 } };

/** What the handlers saw; `released` opens the gate of the event that fails until then. */
const seen = { commands: [] as string[], events: [] as string[], failedAttempts: 0, released: false };

@KafkaController()
class TestHandlers {
  @MessagePattern('registrationCommands', COMMANDS)
  async command(@Payload() command: CommandEnvelope<string>): Promise<CommandReply> {
    if (command.type === 'Poison') throw new PoisonMessageError('bad_command', 'this command can never be applied');
    seen.commands.push(command.payload);
    return { commandId: command.commandId, ok: true, result: command.payload.toUpperCase() };
  }

  @EventPattern('ingest', EVENTS)
  async event(@Payload() body: { id: string; failUntilReleased?: boolean }, @Ctx() ctx: KafkaBatchContext): Promise<void> {
    if (body.failUntilReleased && !seen.released) {
      seen.failedAttempts++;
      throw new Error('the effect failed (transient)');
    }
    seen.events.push(`${body.id}@${ctx.getMessage().offset}`);
  }
}

const envelope = (type: string, payload: string): CommandEnvelope<string> => ({ commandId: randomUUID(), type, appId: 'app_kbt', issuedAt: new Date().toISOString(), payload });

async function readAll(kafka: Kafka, topic: string, count: number): Promise<{ value: string; headers: Record<string, string> }[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('kbt-reader') });
  const out: { value: string; headers: Record<string, string> }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers as IHeaders)) headers[k] = String(v);
      out.push({ value: message.value?.toString('utf8') ?? '', headers });
    },
  });
  await waitFor(async () => out.length >= count, { what: `${count} messages on ${topic}` });
  await consumer.disconnect();
  return out;
}

describe('KafkaBatchTransport (real Kafka)', () => {
  const kafka = testKafka();
  const suffix = uniqueName('kbt');
  const topics: TopicMap = topicsFor(suffix);
  let client: CommandClient;
  let app: INestMicroservice | undefined;

  beforeAll(async () => {
    await ensureTopics(kafka, Object.values(topics), 8);
    client = new CommandClient(kafka, topics.commandReplies);
    await client.start();
  });

  afterAll(async () => {
    await app?.close();
    await client?.stop();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
    await admin.disconnect();
  });

  it('replies to the good commands of a batch and dead-letters its poison; retries a failing effect without committing past it', async () => {
    // Everything is published before the transport starts, on one key: the first fetch holds the whole batch.
    const replies = Promise.all([
      client.send<string>(topics.registrationCommands, 'k', envelope('Echo', 'a'), 90_000),
      client.publish(topics.registrationCommands, [
        { key: 'k', value: JSON.stringify(envelope('Poison', 'p')) },
        { key: 'k', value: '{not json' },
      ]),
      client.send<string>(topics.registrationCommands, 'k', envelope('Echo', 'b'), 90_000),
      client.send<string>(topics.registrationCommands, 'k', envelope('Echo', 'c'), 90_000),
    ]);
    const producer = kafka.producer();
    await producer.connect();
    const [sent] = await producer.send({
      topic: topics.ingest,
      acks: -1,
      messages: [
        { key: 'e', value: JSON.stringify({ id: 'e1' }) },
        { key: 'e', value: JSON.stringify({ id: 'e2', failUntilReleased: true }) },
        { key: 'e', value: '{not json' },
        { key: 'e', value: JSON.stringify({ id: 'e3' }) },
      ],
    });
    await producer.disconnect();
    const base = BigInt(sent.baseOffset!);
    const offsetOf = (i: number) => (base + BigInt(i)).toString();

    const moduleRef = await Test.createTestingModule({ controllers: [TestHandlers] }).compile();
    app = moduleRef.createNestMicroservice({ strategy: new KafkaBatchTransport({ kafka, topics, suffix }), logger: false });
    await app.listen();

    const [a, , b, c] = await replies;
    expect([a, b, c].map((r) => r && r.ok && r.result)).toEqual(['A', 'B', 'C']);
    const commandDlq = await readAll(kafka, topics.registrationCommandsDlq, 2);
    expect(commandDlq.map((m) => m.headers['dlq-reason']).sort()).toEqual(['bad_command', 'invalid_json']);
    for (const m of commandDlq) expect(m.headers['dlq-source-topic']).toBe(topics.registrationCommands);
    expect(seen.commands.sort()).toEqual(['a', 'b', 'c']);

    // e2's effect keeps failing: it is tried again, and nothing at or after it is handled or committed.
    await waitFor(async () => seen.failedAttempts >= 3, { what: 'e2 to be retried' });
    const admin = kafka.admin();
    await admin.connect();
    const committed = async () => {
      const [t] = await admin.fetchOffsets({ groupId: groupFor(EVENTS.group, suffix), topics: [topics.ingest] });
      return t.partitions.find((p) => p.partition === sent.partition)!.offset;
    };
    expect(seen.events).toEqual([`e1@${offsetOf(0)}`]);
    const before = await committed();
    expect(before === '-1' || BigInt(before) <= BigInt(offsetOf(1))).toBe(true);

    seen.released = true;
    await waitFor(async () => seen.events.length === 3, { what: 'e2 and e3 to be handled' });
    expect(seen.events).toEqual([`e1@${offsetOf(0)}`, `e2@${offsetOf(1)}`, `e3@${offsetOf(3)}`]);
    await waitFor(async () => (await committed()) === offsetOf(4), { what: 'the offsets to be committed past e3' });
    await admin.disconnect();
    const eventDlq = await readAll(kafka, topics.ingestDlq, 1);
    expect(eventDlq.map((m) => [m.headers['dlq-reason'], m.headers['dlq-source-offset']])).toEqual([['invalid_json', offsetOf(2)]]);
  });
});
