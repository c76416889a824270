export * from './tokens';
export * from './health';
export * from './metrics';
export * from './platform.module';
export * from './bootstrap';
export * from './secrets';
export * from './credentials';
export * from './unavailable';
