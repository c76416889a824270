export const CONFIG = Symbol('PUSHLEDGER_CONFIG');
export const KAFKA = Symbol('PUSHLEDGER_KAFKA');
export const MONGO = Symbol('PUSHLEDGER_MONGO');
export const SERVICE_NAME = Symbol('PUSHLEDGER_SERVICE_NAME');
export const HEALTH_CHECKS = Symbol('PUSHLEDGER_HEALTH_CHECKS');
export const EVENT_STORE = Symbol('PUSHLEDGER_EVENT_STORE');
export const TOPICS = Symbol('PUSHLEDGER_TOPICS');
