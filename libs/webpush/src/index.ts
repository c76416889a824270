export * from './webpush-error-classifier';
export * from './simulator/webpush-decrypt';
export * from './simulator/webpush-simulator';
