import { loadConfig } from '@pushledger/config';
import { Kafka } from 'kafkajs';
import { createKafka, kafkaConnection, lostProducerState, topicPlacement } from './kafka.factory';

describe('the Kafka factory', () => {
  it('connects in plaintext without SASL by default', () => {
    expect(kafkaConnection(loadConfig({ KAFKA_BROKERS: 'a:1, b:2' }).kafka)).toEqual({ brokers: ['a:1', 'b:2'] });
  });

  it('passes TLS, with the configured CA, and SASL to kafkajs', () => {
    const kafka = { ...loadConfig({}).kafka, ssl: { ca: 'PEM' }, sasl: { mechanism: 'scram-sha-512' as const, username: 'u', password: 'p' } };
    expect(kafkaConnection(kafka)).toEqual({ brokers: ['127.0.0.1:9092'], ssl: { ca: ['PEM'] }, sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } });
    expect(kafkaConnection({ ...kafka, ssl: {}, sasl: undefined })).toEqual({ brokers: ['127.0.0.1:9092'], ssl: true });
  });

  it("gives every client it makes the configuration's topic placement; other clients get the broker's defaults", () => {
    const kafka = createKafka(loadConfig({ KAFKA_REPLICATION_FACTOR: '3', KAFKA_MIN_INSYNC_REPLICAS: '2' }), 'test');
    expect(topicPlacement(kafka)).toEqual({ replicationFactor: 3, minInsyncReplicas: 2 });
    expect(topicPlacement(createKafka(loadConfig({}), 'test'))).toEqual({ replicationFactor: 1, minInsyncReplicas: 1 });
    expect(topicPlacement(new Kafka({ brokers: ['x:1'] }))).toEqual({ replicationFactor: -1 });
  });
});

describe('lostProducerState', () => {
  it('recognises a broker that lost the idempotent producer state, however kafkajs wraps it', () => {
    const outOfOrder = Object.assign(new Error('The broker received an out of order sequence number'), { type: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    expect(lostProducerState(outOfOrder)).toBe(true);
    expect(lostProducerState(Object.assign(new Error('retries exceeded'), { originalError: outOfOrder }))).toBe(true);
    expect(lostProducerState(Object.assign(new Error('batch failed'), { errors: [new Error('x'), { type: 'UNKNOWN_PRODUCER_ID' }] }))).toBe(true);
    expect(lostProducerState(Object.assign(new Error('Connection error: connect ECONNREFUSED'), { type: 'ECONNREFUSED' }))).toBe(false);
    expect(lostProducerState(undefined)).toBe(false);
  });
});
