import mongoose, { Schema } from 'mongoose';
import { Client } from 'pg';
import { createTestDatabase, createTestMongo, createTestTopics, testKafka, waitFor, startService, freePort } from '@pushledger/testing';

describe('foundation: the local engines answer through the clients the services use', () => {
  it('produces and consumes a message through kafkajs on the local broker', async () => {
    const kafka = testKafka();
    const { topics, drop } = await createTestTopics(kafka, ['foundation'], 1);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    const consumer = kafka.consumer({ groupId: `${topics[0]}-g` });
    try {
      await producer.connect();
      await consumer.connect();
      await consumer.subscribe({ topic: topics[0], fromBeginning: true });
      const received: string[] = [];
      await consumer.run({ eachMessage: async ({ message }) => void received.push(message.value!.toString()) });
      await producer.send({ topic: topics[0], acks: -1, messages: [{ key: 'k', value: 'hello-kafka' }] });
      await waitFor(async () => received.length > 0, { what: 'the message' });
      expect(received).toEqual(['hello-kafka']);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await drop();
    }
  });

  it('writes and reads PostgreSQL', async () => {
    const db = await createTestDatabase('foundation');
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      await c.query('create table t (id int primary key, v text)');
      await c.query('insert into t values (1, $1)', ['hello-pg']);
      const { rows } = await c.query('select v from t where id = 1');
      expect(rows).toEqual([{ v: 'hello-pg' }]);
    } finally {
      await c.end();
      await db.drop();
    }
  });

  it('writes and reads a document through mongoose on the MongoDB-wire store', async () => {
    const mongo = await createTestMongo('foundation');
    try {
      const Thing = mongo.connection.model('Thing', new Schema({ _id: String, v: String, n: Number }));
      await Thing.create({ _id: 'a', v: 'hello-mongo', n: 1 });
      await Thing.updateOne({ _id: 'a', n: 1 }, { $set: { n: 2 } });
      const doc = await Thing.findById('a').lean();
      expect(doc).toMatchObject({ _id: 'a', v: 'hello-mongo', n: 2 });
      expect(mongoose.connection).toBeDefined();
    } finally {
      await mongo.drop();
    }
  });
});

describe('foundation: every service boots and reports its dependencies', () => {
  const services = ['gateway', 'registration', 'identity', 'campaign', 'delivery'] as const;
  it.each(services)('%s answers /health with 200 and each dependency ok', async (name) => {
    const port = await freePort();
    const proc = startService(name, name === 'gateway' ? { PORT: String(port) } : { SERVICE_PORT: String(port) });
    // The gateway's app directory comes from the registration service: its health (`apps`) waits for it.
    const owner = name === 'gateway' ? startService('registration', { SERVICE_PORT: String(await freePort()) }) : null;
    try {
      const body = await waitFor(
        async () => {
          const res = await fetch(`http://127.0.0.1:${port}/health`);
          return res.status === 200 ? ((await res.json()) as { status: string; dependencies: Record<string, string> }) : undefined;
        },
        { timeoutMs: 60000, what: `${name} /health (logs: ${proc.logs().slice(-2000)})` },
      );
      expect(body.status).toBe('ok');
      expect(Object.keys(body.dependencies).length).toBeGreaterThan(0);
      for (const dep of Object.values(body.dependencies)) expect(dep).toBe('ok');
    } finally {
      await proc.stop();
      await owner?.stop();
    }
  });
});
