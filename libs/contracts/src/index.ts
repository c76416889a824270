export * from './topics';
export * from './streams';
export * from './apps';
export * from './events';
