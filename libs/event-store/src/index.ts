export * from './event-store.port';
export * from './event-store.errors';
export { createEventStore, type CreateEventStoreOptions } from './create-event-store';
export { InMemoryEventStore, InMemoryCheckpointStore } from './in-memory-event-store';
export { PostgresEventStore, PostgresCheckpointStore, type PostgresEventStoreOptions } from './postgres-event-store';
// Type only, so that importing this lib does not load the gRPC client; createEventStore loads it on demand.
export type { EventStoreDbEventStore, EventStoreDbCheckpointStore } from './eventstoredb-event-store';
export type { PollingOptions } from './polling-subscription';
export * from './relay';
export * from './keep-alive';
export * from './leader-lock';
export { createPgPool } from './pg-pool';
export { TurnBatch } from './turn-batch';
