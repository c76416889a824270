export * from './message-outcomes.store';
