export * from './topics';
export * from './streams';
export * from './apps';
export * from './events';
export * from './internal-commands';
export * from './delivery';
export * from './campaign';
