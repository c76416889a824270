export * from './stream-executor';
/** Naming helpers that live in contracts now (the gateway needs them without this lib). */
export { deterministicUuid, deviceIdFromToken } from '@pushledger/contracts';
export * from './history';
export * from './segment-tenant';
