import { execFileSync, spawnSync } from 'child_process';
import { readFileSync } from 'fs';
import * as path from 'path';
import type { Consumer, Kafka, Producer } from 'kafkajs';
import { loadConfig } from '@pushledger/config';
import { topicsFor, TopicMap } from '@pushledger/contracts';
import { createKafka, createProducer } from '@pushledger/kafka';
import { api, repoRoot, startStack, Stack, TestApp, testConfig, testKafka, uniqueName, waitFor } from '@pushledger/testing';

/**
 * The services against a broker whose only client listener is SASL_SSL (deploy/local/infra.sh up-secure):
 * TLS with a local CA, SCRAM-SHA-256/512 and PLAIN users. Everything they do goes through it: commands and
 * replies, the ingest path, the relay's lifecycle topic, the DLQ.
 */

const INFRA = path.join(repoRoot, 'deploy/local/infra.sh');

/** The settings `up-secure` writes for clients of the secure broker (KAFKA_BROKERS, KAFKA_SSL*, KAFKA_SASL_*). */
function secureEnv(): Record<string, string> {
  const dataDir = testConfig().dataDir ?? path.join(repoRoot, '.data');
  const text = readFileSync(path.join(dataDir, 'kafka-secure/client.env'), 'utf8');
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/** A client that tries once: a refused connection fails fast instead of being retried. */
function oneShot(env: Record<string, string>): Kafka {
  return createKafka(loadConfig({ ...process.env, ...env }), uniqueName('probe'), undefined, { connectionTimeout: 3000, requestTimeout: 5000, retry: { retries: 0 } });
}

async function listTopics(kafka: Kafka): Promise<string[]> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    return await admin.listTopics();
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

describe('Kafka with SASL/SCRAM over TLS', () => {
  let startedHere = false;
  let env: Record<string, string>;
  let password: string;

  beforeAll(() => {
    startedHere = spawnSync('bash', [INFRA, 'status-secure'], { stdio: 'ignore' }).status !== 0;
    execFileSync('bash', [INFRA, 'up-secure'], { stdio: ['ignore', 'inherit', 'inherit'] });
    env = secureEnv();
    password = readFileSync(env.KAFKA_SASL_PASSWORD_FILE, 'utf8').trim();
  });

  afterAll(() => {
    if (startedHere) execFileSync('bash', [INFRA, 'down-secure'], { stdio: ['ignore', 'inherit', 'inherit'] });
  });

  describe('who may connect', () => {
    it.each(['scram-sha-512', 'scram-sha-256', 'plain'])('a client with the right credentials (%s over TLS) is served', async (mechanism) => {
      expect(Array.isArray(await listTopics(oneShot({ ...env, KAFKA_SASL_MECHANISM: mechanism })))).toBe(true);
    });

    it.each(['scram-sha-512', 'scram-sha-256', 'plain'])('a wrong password is refused (%s)', async (mechanism) => {
      const wrong = { ...env, KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_PASSWORD_FILE: '', KAFKA_SASL_PASSWORD: `${password}x` };
      await expect(listTopics(oneShot(wrong))).rejects.toThrow(/authentication failed/i);
    });

    it('a client without TLS is refused, even with the right password', async () => {
      // The broker reads the plaintext request as a broken TLS handshake and closes the connection.
      await expect(listTopics(oneShot({ ...env, KAFKA_SSL: 'false', KAFKA_SSL_CA_FILE: '' }))).rejects.toThrow(/closed connection/i);
    });

    it('a TLS client without SASL is refused', async () => {
      await expect(listTopics(oneShot({ ...env, KAFKA_SASL_MECHANISM: '', KAFKA_SASL_USERNAME: '', KAFKA_SASL_PASSWORD_FILE: '' }))).rejects.toThrow(/closed connection/i);
    });

    it("a client that does not trust the local CA refuses the broker's certificate", async () => {
      await expect(listTopics(oneShot({ ...env, KAFKA_SSL_CA_FILE: '' }))).rejects.toThrow(/certificate/i);
    });
  });

  describe('the services over it', () => {
    let stack: Stack;
    let topics: TopicMap;
    let kafka: Kafka;
    let producer: Producer;
    let consumer: Consumer;
    let appA: TestApp;
    let appB: TestApp;
    const dead = new Map<string, { reason: string; detail: string }>();
    const lifecycle: { stream: string; type: string }[] = [];

    beforeAll(async () => {
      stack = await startStack(['gateway', 'registration', 'relay'], env);
      topics = topicsFor(stack.suffix);
      kafka = testKafka(uniqueName('secure-test'), env);
      producer = createProducer(kafka);
      await producer.connect();
      appA = await stack.createApp({}, 'secure-a');
      appB = await stack.createApp({}, 'secure-b');
      consumer = kafka.consumer({ groupId: uniqueName('secure-reader'), maxWaitTimeInMs: 200 });
      await consumer.connect();
      await consumer.subscribe({ topics: [topics.ingestDlq, topics.deviceLifecycle], fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ topic, message }) => {
          const h = (k: string) => message.headers?.[k]?.toString() ?? '';
          if (topic === topics.ingestDlq) dead.set(h('test-id'), { reason: h('dlq-reason'), detail: h('dlq-detail') });
          else lifecycle.push({ stream: h('stream'), type: h('event-type') });
        },
      });
    });

    afterAll(async () => {
      if (process.env.DEBUG_STACK) console.log(stack?.logs());
      await consumer?.disconnect().catch(() => undefined);
      await producer?.disconnect().catch(() => undefined);
      await stack?.stop();
    });

    const registerPush = (deviceId: string, extra: Record<string, unknown> = {}) => ({
      type: 'track',
      event: 'register push',
      userId: deviceId,
      messageId: `${deviceId}-m`,
      properties: { deviceId, fcmToken: `fcm:${deviceId}:abcdefghijklmnop`, deviceType: 'Android' },
      ...extra,
    });

    const device = (app: TestApp, deviceId: string) => api(stack.url, app.serverKey).get(`/v1/devices/${encodeURIComponent(deviceId)}`);

    it('created every topic itself, with the configured min.insync.replicas (the broker creates none on its own)', async () => {
      const admin = kafka.admin();
      await admin.connect();
      try {
        const existing = await admin.listTopics();
        for (const t of [topics.ingest, topics.gatewayIngest, topics.ingestDlq, topics.deviceLifecycle, topics.registrationCommands]) expect(existing).toContain(t);
        const { resources } = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: topics.ingest, configNames: ['min.insync.replicas'] }] });
        // Set on the topic when it was created (source 1, TOPIC_CONFIG), not inherited from the broker.
        expect(resources[0].configEntries).toEqual([expect.objectContaining({ configName: 'min.insync.replicas', configValue: '1', configSource: 1 })]);
      } finally {
        await admin.disconnect();
      }
    });

    it('applies a Segment message published with its write key, and the relay publishes its facts to the lifecycle topic', async () => {
      const deviceId = uniqueName('secure-dev');
      await producer.send({ topic: topics.ingest, acks: -1, messages: [{ key: deviceId, value: JSON.stringify({ ...registerPush(deviceId), writeKey: appA.writeKey }), headers: { 'test-id': deviceId } }] });
      const view = await waitFor(
        async () => {
          if (dead.has(deviceId)) throw new Error(`dead-lettered: ${dead.get(deviceId)!.reason}`);
          const res = await device(appA, deviceId);
          return res.status === 200 && res.body;
        },
        { what: 'the device registered through Kafka ingest', timeoutMs: 30000 },
      );
      expect(view).toMatchObject({ id: deviceId, appId: appA.id, status: 'active' });
      await waitFor(async () => lifecycle.some((e) => e.stream === `device-${appA.id}-${deviceId}` && e.type === 'TokenRegistered'), { what: 'TokenRegistered on the lifecycle topic', timeoutMs: 30000 });
    });

    it("applies the gateway's Segment HTTP messages, which name the app in a header on the gateway's own topic", async () => {
      const deviceId = uniqueName('secure-http');
      const res = await api(stack.url).post('/v1/track', { ...registerPush(deviceId), writeKey: appA.writeKey });
      expect(res.status).toBe(200);
      await waitFor(async () => (await device(appA, deviceId)).status === 200, { what: 'the device registered through /v1/track', timeoutMs: 30000 });
    });

    it("dead-letters a message whose app-id header names another app than its write key's, or that has a header and no write key", async () => {
      const mismatch = uniqueName('secure-mismatch');
      const headerOnly = uniqueName('secure-header');
      const unknownKey = uniqueName('secure-unknown');
      await producer.send({
        topic: topics.ingest,
        acks: -1,
        messages: [
          { key: mismatch, value: JSON.stringify({ ...registerPush(mismatch), writeKey: appA.writeKey }), headers: { 'test-id': mismatch, 'app-id': appB.id } },
          { key: headerOnly, value: JSON.stringify(registerPush(headerOnly)), headers: { 'test-id': headerOnly, 'app-id': appB.id } },
          { key: unknownKey, value: JSON.stringify({ ...registerPush(unknownKey), writeKey: 'wk_not_a_key_of_any_app' }), headers: { 'test-id': unknownKey } },
        ],
      });
      await waitFor(async () => dead.has(mismatch) && dead.has(headerOnly) && dead.has(unknownKey), { what: 'the three messages in the DLQ', timeoutMs: 30000 });
      expect(dead.get(mismatch)).toEqual({ reason: 'app_id_mismatch', detail: expect.stringMatching(/app-id header names another app/) });
      expect(dead.get(headerOnly)).toEqual({ reason: 'write_key_required', detail: expect.stringMatching(/INGEST_TRUST_APP_ID_HEADER is off/) });
      expect(dead.get(unknownKey)).toMatchObject({ reason: 'unknown_key' });
      for (const [id, app] of [[mismatch, appA], [mismatch, appB], [headerOnly, appB]] as const) expect((await device(app, id)).status).toBe(404);
    });
  });
});
