export * from './kafka.factory';
export * from './consumer-runner';
export * from './request-reply';
export * from './kafka-batch.transport';
export * from './dead-letters';
export * from './revive';
export * from './message-seal';
