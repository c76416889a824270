export * from './fcm-client';
export * from './simulator/fcm-simulator';
export * from './simulator/fcm-simulator-client';
export { ensureSimulatorTls, type SimulatorTls } from './simulator/fcm-simulator-certs';
export { TOKEN_PREFIXES, type FcmSimKind, type FcmSimResponse } from './simulator/fcm-simulator-replies';
