import { describe, expect, it } from '@jest/globals';
import { newEvent } from './event-store.contract';
import { InMemoryEventStore } from './in-memory-event-store';
import { KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from 'kafkajs';
import { isRetriable, Relay, toRelayMessage, type RelayMessage, type RelayPublisher } from './relay';

class FakePublisher implements RelayPublisher {
  readonly sent: RelayMessage[] = [];
  failNext = 0;
  async publish(messages: RelayMessage[]): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('broker unavailable');
    }
    this.sent.push(...messages);
  }
  async close(): Promise<void> {}
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
};

describe('Relay', () => {
  it('publishes lifecycle events keyed by stream, with the envelope and headers, and checkpoints after the ack', async () => {
    const store = new InMemoryEventStore();
    const publisher = new FakePublisher();
    await store.appendToStream('device-app_a-d1', [newEvent('DeviceRegistered', { token: 't' }, 'app_a')], { expectedRevision: 'no_stream' });
    await store.appendToStream('app-app_a', [newEvent('AppCreated')], { expectedRevision: 'no_stream' });
    await store.appendToStream('user-app_a-u1', [newEvent('UserLinked')], { expectedRevision: 'no_stream' });
    const relay = new Relay({ store, publisher });
    await relay.start();
    await until(() => publisher.sent.length === 2);
    await store.appendToStream('token-app_a-h1', [newEvent('TokenClaimed')], { expectedRevision: 'no_stream' });
    await until(() => publisher.sent.length === 3);
    await relay.stop();

    expect(publisher.sent.map((m) => m.key)).toEqual(['device-app_a-d1', 'user-app_a-u1', 'token-app_a-h1']);
    const [first] = publisher.sent;
    const value = JSON.parse(first.value);
    expect(value).toMatchObject({ type: 'DeviceRegistered', stream: 'device-app_a-d1', streamRevision: '0', position: '1', data: { token: 't' } });
    expect(value.metadata.appId).toBe('app_a');
    expect(first.headers).toMatchObject({ 'event-id': value.eventId, 'event-type': 'DeviceRegistered', 'app-id': 'app_a' });
    await expect(store.checkpoints.load(relay.name)).resolves.toBe(4n);
  });

  it('does not move the checkpoint when Kafka fails, and resends from it on restart', async () => {
    const store = new InMemoryEventStore();
    const publisher = new FakePublisher();
    await store.appendToStream('device-app_a-d1', [newEvent('A'), newEvent('B')], { expectedRevision: 'no_stream' });
    const first = new Relay({ store, publisher });
    await first.start();
    await until(() => publisher.sent.length === 2);
    publisher.failNext = 1;
    await store.appendToStream('device-app_a-d1', [newEvent('C')], { expectedRevision: 1n });
    await expect(first.done).rejects.toThrow('broker unavailable');
    await expect(store.checkpoints.load(first.name)).resolves.toBe(2n);

    const second = new Relay({ store, publisher });
    await second.start();
    await until(() => publisher.sent.length === 3);
    await second.stop();
    expect(publisher.sent.map((m) => JSON.parse(m.value).type)).toEqual(['A', 'B', 'C']);
  });

  it('writes bigints as strings', () => {
    const m = toRelayMessage({ ...newEvent('X'), stream: 'device-app_a-d', streamRevision: 2n ** 60n, position: 2n ** 62n });
    expect(JSON.parse(m.value)).toMatchObject({ streamRevision: String(2n ** 60n), position: String(2n ** 62n) });
  });
});

describe('isRetriable', () => {
  const notHosted = new KafkaJSProtocolError({ message: 'This server does not host this topic-partition', type: 'UNKNOWN_TOPIC_OR_PARTITION', code: 3, retriable: true } as never);
  it('retries a broker that does not host the partition yet, also once kafkajs gave up on it', () => {
    expect(isRetriable(notHosted)).toBe(true);
    expect(isRetriable(new KafkaJSNumberOfRetriesExceeded(notHosted, { retryCount: 5, retryTime: 4000 } as never))).toBe(true);
  });
  it('does not retry what the broker will refuse again', () => {
    const tooLarge = new KafkaJSProtocolError({ message: 'The request included a message larger than the max message size the server will accept', type: 'MESSAGE_TOO_LARGE', code: 10, retriable: false } as never);
    expect(isRetriable(tooLarge)).toBe(false);
    expect(isRetriable(new KafkaJSNumberOfRetriesExceeded(tooLarge, { retryCount: 5, retryTime: 4000 } as never))).toBe(false);
    expect(isRetriable(new KafkaJSNonRetriableError('closed'))).toBe(false);
    expect(isRetriable(new Error('plain'))).toBe(false);
  });
});
