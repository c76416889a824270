import type { Admin, Kafka } from 'kafkajs';
import { testConfig, uniqueName } from '@pushledger/testing';
import { createKafka, ensureTopics } from './kafka.factory';

/** Topics are created with the configured replication: the single local broker shows it by accepting or refusing. */
describe('ensureTopics (real Kafka)', () => {
  let admin: Admin;
  const created: string[] = [];

  const kafkaWith = (env: Record<string, string> = {}): Kafka => createKafka(testConfig(env), uniqueName('factory'), undefined, { retry: { retries: 2, initialRetryTime: 100 } });

  beforeAll(async () => {
    admin = kafkaWith().admin();
    await admin.connect();
  });

  afterAll(async () => {
    await admin.deleteTopics({ topics: created }).catch(() => undefined);
    await admin.disconnect();
  });

  const minIsrOf = async (topic: string) => {
    const { resources } = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: topic, configNames: ['min.insync.replicas'] }] });
    return resources[0].configEntries.map((e) => ({ value: e.configValue, source: e.configSource }));
  };

  it('creates a missing topic with the configured replication factor and min.insync.replicas', async () => {
    const topic = uniqueName('placement');
    created.push(topic);
    await ensureTopics(kafkaWith(), [topic], 2);
    const [meta] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
    expect(meta.partitions.map((p) => p.replicas.length)).toEqual([1, 1]);
    // Source 1 (TOPIC_CONFIG): set on the topic, not the broker's default showing through.
    expect(await minIsrOf(topic)).toEqual([{ value: '1', source: 1 }]);
  });

  it('asks for the configured replication factor: three replicas are more than one broker can give', async () => {
    const topic = uniqueName('placement-rf3');
    created.push(topic);
    await expect(ensureTopics(kafkaWith({ KAFKA_REPLICATION_FACTOR: '3', KAFKA_MIN_INSYNC_REPLICAS: '2' }), [topic], 1)).rejects.toThrow(/with replication factor 3, min.insync.replicas 2 failed: INVALID_REPLICATION_FACTOR/);
    expect(await admin.listTopics()).not.toContain(topic);
  });

  it('passes the placement it is given on to the topic', async () => {
    const topic = uniqueName('placement-isr2');
    created.push(topic);
    // The broker caps the effective value at the replica count; the setting itself is what production gets with 3 / 2.
    await ensureTopics(kafkaWith(), [topic], 1, { replicationFactor: 1, minInsyncReplicas: 2 });
    expect(await minIsrOf(topic)).toEqual([{ value: '2', source: 1 }]);
  });

  it("leaves placement to the broker's defaults for a client not made by createKafka", async () => {
    const topic = uniqueName('placement-default');
    created.push(topic);
    const { Kafka, logLevel } = await import('kafkajs');
    await ensureTopics(new Kafka({ brokers: testConfig().kafka.brokers, logLevel: logLevel.NOTHING }), [topic], 1);
    // No topic-level setting: the broker's own min.insync.replicas (source 4 or 5, never 1).
    expect((await minIsrOf(topic))[0].source).not.toBe(1);
  });
});
