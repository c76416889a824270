import type { CommandReply } from '@pushledger/kafka';

/**
 * Errors that say an engine (event store, Kafka, read-model database) cannot be reached right now, as
 * opposed to a fault of the request or of our code: the edge answers them 503 with Retry-After, never 500.
 * Decided by the error's name, code or SQLSTATE, never by a class import: the errors come from pg, kafkajs,
 * the MongoDB driver (and mongoose), the EventStoreDB client and FerretDB, whichever adapter sits below.
 */
export type UnreachableEngine = 'postgres' | 'kafka' | 'mongo' | 'eventstoredb' | 'network';

/** Retry-After (seconds) of a 503 answered while an engine is away. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 2;

const NODE_NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'ENETDOWN']);

/** SQLSTATE: 08 connection exception; 57P01-57P03 shut down, crashed, starting up; 53300 too many connections. */
const PG_UNAVAILABLE_STATE = /^(08...|57P0[123]|53300)$/;
/** pg's own errors carry no SQLSTATE, only these messages. */
const PG_CLIENT_MESSAGE = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout|Client was closed and is not queryable)/;

const KAFKA_UNAVAILABLE = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSBrokerNotFound',
  'KafkaJSLockTimeout',
  'KafkaJSTimeout',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSGroupCoordinatorNotFound',
]);
/** The MongoDB driver's and mongoose's names for a server it cannot reach. */
const MONGO_UNAVAILABLE = new Set([
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoServerSelectionError',
  'MongooseServerSelectionError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoPoolClearedError',
  'PoolClearedError',
  'PoolClearedOnNetworkError',
  'MongoWaitQueueTimeoutError',
  'WaitQueueTimeoutError',
]);
/** Server codes: HostUnreachable, HostNotFound, NetworkTimeout, ShutdownInProgress, PrimarySteppedDown, NotWritablePrimary, InterruptedAtShutdown, InterruptedDueToReplStateChange, NotPrimaryNoSecondaryOk, NotPrimaryOrSecondary. */
const MONGO_UNAVAILABLE_CODES = new Set([6, 7, 89, 91, 189, 10107, 11600, 11602, 13435, 13436]);
/** FerretDB answers InternalError (1) when its PostgreSQL backend is away; only the message tells. */
const FERRETDB_BACKEND_DOWN = /failed to connect to|dial error|connection refused|conn closed|connection reset|broken pipe|unexpected EOF|SQLSTATE (08...|57P0[123]|53300)|the database system is (starting up|shutting down|in recovery|not yet accepting connections)|terminating connection due to administrator command/i;
/** @eventstore/db-client errors carry a `type`. */
const ESDB_UNAVAILABLE_TYPES = new Set(['unavailable', 'deadline-exceeded', 'not-leader', 'cancelled']);

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  severity?: unknown;
  retriable?: unknown;
  type?: unknown;
  errorLabels?: unknown;
  errorLabelSet?: unknown;
  cause?: unknown;
  originalError?: unknown;
  reason?: unknown;
  errors?: unknown;
}

function hasLabel(e: ErrorLike, label: string): boolean {
  if (e.errorLabelSet instanceof Set) return e.errorLabelSet.has(label);
  return Array.isArray(e.errorLabels) && e.errorLabels.includes(label);
}

function classifyOne(e: ErrorLike): UnreachableEngine | null {
  const name = typeof e.name === 'string' ? e.name : '';
  const message = typeof e.message === 'string' ? e.message : '';
  const code = e.code;
  if (typeof code === 'string' && e.severity !== undefined && PG_UNAVAILABLE_STATE.test(code)) return 'postgres';
  if (PG_CLIENT_MESSAGE.test(message)) return 'postgres';
  if (KAFKA_UNAVAILABLE.has(name)) return 'kafka';
  // A protocol error the broker itself calls retriable: no leader, not enough replicas, request timed out, ...
  if (name === 'KafkaJSProtocolError' && e.retriable === true) return 'kafka';
  if (MONGO_UNAVAILABLE.has(name)) return 'mongo';
  if (name.startsWith('Mongo') && (hasLabel(e, 'ResetPool') || hasLabel(e, 'SystemOverloadedError') || hasLabel(e, 'RetryableWriteError'))) return 'mongo';
  if (name === 'MongoServerError' && typeof code === 'number' && MONGO_UNAVAILABLE_CODES.has(code)) return 'mongo';
  if (name === 'MongoServerError' && code === 1 && FERRETDB_BACKEND_DOWN.test(message)) return 'mongo';
  // Mongoose buffers operations while it has no connection, then gives up with this.
  if (name === 'MongooseError' && /buffering timed out/.test(message)) return 'mongo';
  if (typeof e.type === 'string' && ESDB_UNAVAILABLE_TYPES.has(e.type) && /Error$/.test(name)) return 'eventstoredb';
  if (typeof code === 'string' && NODE_NETWORK_CODES.has(code)) return 'network';
  return null;
}

/**
 * Which engine the error says is unreachable, looking through wrappers (`cause`, kafkajs's
 * `originalError`, a retrier's `reason`, an AggregateError's `errors`); null: not an outage.
 */
export function unreachableEngine(err: unknown, depth = 0): UnreachableEngine | null {
  if (depth > 6 || typeof err !== 'object' || err === null) return null;
  const e = err as ErrorLike;
  const own = classifyOne(e);
  if (own) return own;
  for (const inner of [e.cause, e.originalError, e.reason]) {
    const found = unreachableEngine(inner, depth + 1);
    if (found) return found;
  }
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const found = unreachableEngine(inner, depth + 1);
      if (found) return found;
    }
  }
  return null;
}

export const isUnavailable = (err: unknown): boolean => unreachableEngine(err) !== null;

/**
 * An owner's answer to a query: when an engine is away the asker is told so at once (the gateway answers
 * 503), rather than the query's partition waiting for the engine while the asker has long stopped
 * waiting. A query stores nothing, so nothing is lost by not trying it again. Commands are not answered
 * this way: they are retried in place, and the gateway's wait for them ends in its own 503.
 */
export async function answerQuery(commandId: string, query: () => Promise<unknown>): Promise<CommandReply> {
  try {
    return { commandId, ok: true, result: await query() };
  } catch (err) {
    if (!isUnavailable(err)) throw err;
    return { commandId, ok: false, error: { code: 'unavailable', message: 'a database the query needs is unreachable' } };
  }
}
