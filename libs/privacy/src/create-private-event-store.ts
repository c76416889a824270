import type { PushledgerConfig } from '@pushledger/config';
import { createEventStore, type CreateEventStoreOptions } from '@pushledger/event-store';
import { PostgresKeyStore } from './postgres-key-store';
import { PrivacyEventStore, type PrivacyEventStoreOptions } from './privacy-event-store';

/**
 * The configured event store wrapped in crypto-shredding, with its keys in `privacy.keys` of the PostgreSQL
 * database at POSTGRES_URL (also when the events themselves live in EventStoreDB).
 */
export async function createPrivateEventStore(
  config: Pick<PushledgerConfig, 'eventStore'>,
  options: CreateEventStoreOptions & PrivacyEventStoreOptions & { keyPoolSize?: number } = {},
): Promise<PrivacyEventStore> {
  const keys = await PostgresKeyStore.connect({ connectionString: config.eventStore.postgresUrl, poolSize: options.keyPoolSize });
  try {
    const inner = await createEventStore(config, options);
    // Both in the database at POSTGRES_URL when the events are in PostgreSQL.
    return new PrivacyEventStore(inner, keys, { ...options, keysInEventStore: inner.kind === 'postgres' });
  } catch (err) {
    await keys.close();
    throw err;
  }
}
