export * from './sealing';
export * from './key-store.port';
export { PostgresKeyStore, type PostgresKeyStoreOptions } from './postgres-key-store';
export * from './privacy-event-store';
export { createPrivateEventStore } from './create-private-event-store';
export { RecipientSeals } from './recipient-seals';
export { SealedFacts, TOKEN_FIELDS, type ErasedPii } from './sealed-facts';
