export * from './engines';
export * from './processes';
