/**
 * Relay process: every stored lifecycle event (device-, user-, token- streams) to Kafka
 * `pushledger.device-lifecycle.v1`, at least once, in per-stream order, resuming from its checkpoint.
 * Facts go out as stored: personal data and tokens sealed with the keys erasure destroys, user streams under
 * their pseudonyms. Readers open them with the key store (`SealedFacts`, @pushledger/privacy).
 * Run as many as you like: one leads (a PostgreSQL advisory lock per checkpoint name, in the database at
 * POSTGRES_URL, which the eventstoredb mode needs too for its key store), the others wait and take over
 * from the checkpoint when its connection ends.
 *
 *   node <runner> tools/relay/main.ts [--topic <name>] [--checkpoint <name>]
 *
 * Engines come from @pushledger/config (EVENT_STORE, POSTGRES_URL / EVENTSTORE_CONNECTION_STRING, KAFKA_BROKERS and the KAFKA_SSL / KAFKA_SASL_* settings).
 */
import { loadConfig } from '@pushledger/config';
import { topicsFor } from '@pushledger/contracts';
import { createEventStore, KafkaRelayPublisher, keepAliveAsLeader, PostgresLeaderLock, Relay, type EventStore, type RelayLogger } from '@pushledger/event-store';
import { createKafka, ensureTopics } from '@pushledger/kafka';
import { logLevel } from 'kafkajs';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const config = loadConfig();
  const quiet = config.logLevel === 'warn' || config.logLevel === 'error' || config.logLevel === 'silent';
  const logger: RelayLogger = {
    info: (message, fields) => {
      if (!quiet) process.stdout.write(JSON.stringify({ level: 'info', service: 'relay', message, ...fields }) + '\n');
    },
    error: (message, fields) => {
      if (config.logLevel !== 'silent') process.stderr.write(JSON.stringify({ level: 'error', service: 'relay', message, ...fields }) + '\n');
    },
  };
  const topic = arg('topic', topicsFor(config.kafka.topicSuffix).deviceLifecycle);
  const name = arg('checkpoint', 'relay.device-lifecycle');
  const clientId = `${config.kafka.clientId}-relay`;

  const kafka = createKafka(config, clientId, undefined, { logLevel: logLevel.ERROR });
  const lock = new PostgresLeaderLock({ connectionString: config.eventStore.postgresUrl, name, applicationName: `pushledger-relay pid=${process.pid}` });
  // An engine away (PostgreSQL, Kafka) costs a wait and a fresh start from the checkpoint, never the process.
  const alive = keepAliveAsLeader(
    lock,
    async () => {
      const running: { store?: EventStore; publisher?: KafkaRelayPublisher; relay?: Relay } = {};
      const stop = async () => {
        await running.relay?.stop().catch(() => undefined);
        await running.publisher?.close().catch(() => undefined);
        await running.store?.close().catch(() => undefined);
      };
      try {
        const store = (running.store = await createEventStore(config));
        await ensureTopics(kafka, [topic], -1);
        const publisher = (running.publisher = await KafkaRelayPublisher.connect({ kafka, topic }));
        const relay = (running.relay = new Relay({ store, publisher, name, logger }));
        await relay.start();
        logger.info('relay running', { topic, checkpoint: name, store: store.kind });
        return { done: relay.done, stop };
      } catch (err) {
        await stop();
        throw err;
      }
    },
    {
      onFailure: (err, attempt, retryInMs) => logger.error('relay stopped on error; starting again from its checkpoint', { error: err.message, attempt, retryInMs }),
      onLeading: () => logger.info('relay leading', { checkpoint: name, pid: process.pid }),
    },
  );
  logger.info('relay waiting for the lead', { checkpoint: name, pid: process.pid });
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await alive.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
}

main().catch((err: Error) => {
  process.stderr.write(JSON.stringify({ level: 'error', service: 'relay', message: 'relay failed to start', error: err.message }) + '\n');
  process.exit(1);
});
