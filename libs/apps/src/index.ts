export * from './app-registry';
