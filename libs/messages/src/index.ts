export * from './messages.store';
export * from './campaigns.store';
export * from './templates';
export * from './local-time';
