export * from './kafka.factory';
export * from './consumer-runner';
export * from './request-reply';
