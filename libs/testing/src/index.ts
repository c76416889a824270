export * from './engines';
export * from './processes';
export * from './stack';
