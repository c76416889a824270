import type { PushledgerConfig } from '@pushledger/config';
import { EventStoreError } from './event-store.errors';
import type { EventStore } from './event-store.port';
import type { PollingOptions } from './polling-subscription';

export interface CreateEventStoreOptions {
  /** PostgreSQL only. */
  poolSize?: number;
  schema?: string;
  polling?: PollingOptions;
}

/** Picks the adapter by `config.eventStore.kind`; the EventStoreDB client (gRPC) is only loaded when used. */
export async function createEventStore(config: Pick<PushledgerConfig, 'eventStore'>, options: CreateEventStoreOptions = {}): Promise<EventStore> {
  const es = config.eventStore;
  switch (es.kind) {
    case 'postgres': {
      const { PostgresEventStore } = await import('./postgres-event-store');
      return PostgresEventStore.connect({ connectionString: es.postgresUrl, poolSize: options.poolSize, schema: options.schema, polling: options.polling });
    }
    case 'eventstoredb': {
      if (!es.eventStoreDbConnectionString) throw new EventStoreError('EVENTSTORE_CONNECTION_STRING is required for the eventstoredb event store');
      const { EventStoreDbEventStore } = await import('./eventstoredb-event-store');
      return new EventStoreDbEventStore(es.eventStoreDbConnectionString);
    }
  }
}
