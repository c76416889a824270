export * from './stream-executor';
export * from './device-flows';
export * from './user-flows';
export * from './segment';
export * from './segment-tenant';
