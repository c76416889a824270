export * from './engines';
export * from './processes';
export * from './stack';
export * from './app-settings';
export * from './webhook-receiver';
export * from './topic-scan';
