export const EVENT_STORE = Symbol('EVENT_STORE');
export const COMMAND_CLIENT = Symbol('COMMAND_CLIENT');
