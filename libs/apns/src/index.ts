export * from './apns-client';
export * from './simulator/apns-simulator';
