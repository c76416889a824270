import { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError, KafkaJSRequestTimeoutError } from 'kafkajs';
import mongoose from 'mongoose';
import { DatabaseError } from 'pg';
import { isUnavailable, unreachableEngine } from './unavailable';

/** kafkajs's typings omit the constructors' second argument and the protocol error's fields. */
const untyped = (c: unknown) => c as new (...args: unknown[]) => Error;

const { MongoNetworkError, MongoServerError, MongoServerSelectionError } = mongoose.mongo;

const pgError = (code: string, message = 'x') => Object.assign(new DatabaseError(message, message.length, 'error'), { code, severity: 'FATAL' });
const sysError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code, errno: -111, syscall: 'connect' });
const ferret = (message: string) => new MongoServerError({ ok: 0, code: 1, codeName: 'InternalError', errmsg: message });

describe('unreachableEngine', () => {
  it('knows PostgreSQL going away: admin shutdown, crash, starting up, connection exceptions, pg client messages, a refused connect', () => {
    expect(unreachableEngine(pgError('57P01', 'terminating connection due to administrator command'))).toBe('postgres');
    expect(unreachableEngine(pgError('57P02'))).toBe('postgres');
    expect(unreachableEngine(pgError('57P03', 'the database system is starting up'))).toBe('postgres');
    expect(unreachableEngine(pgError('08006'))).toBe('postgres');
    expect(unreachableEngine(pgError('53300'))).toBe('postgres');
    expect(unreachableEngine(new Error('Connection terminated unexpectedly'))).toBe('postgres');
    expect(unreachableEngine(new Error('timeout exceeded when trying to connect'))).toBe('postgres');
    expect(unreachableEngine(sysError('ECONNREFUSED'))).toBe('network');
    expect(unreachableEngine(sysError('ECONNRESET'))).toBe('network');
  });

  it('does not take a fault of the request or of our SQL for an outage', () => {
    for (const code of ['23505', '40001', '42P01', '22P02', '57014']) expect(isUnavailable(pgError(code))).toBe(false);
    // A five-character code on something that is not a server error is not a SQLSTATE.
    expect(isUnavailable(Object.assign(new Error('x'), { code: '08006' }))).toBe(false);
    expect(isUnavailable(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBe(false);
    expect(isUnavailable(new Error('Connection refused by the rules of this app'))).toBe(false);
    expect(isUnavailable(undefined)).toBe(false);
    expect(isUnavailable('ECONNREFUSED')).toBe(false);
  });

  it('knows Kafka away: connection, timeout, retries exhausted (also wrapped), a retriable protocol error', () => {
    expect(unreachableEngine(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092'))).toBe('kafka');
    expect(unreachableEngine(new KafkaJSRequestTimeoutError('Request Produce(key: 0, version: 7) timed out'))).toBe('kafka');
    expect(unreachableEngine(new (untyped(KafkaJSNumberOfRetriesExceeded))(new Error('boom'), { retryCount: 5, retryTime: 1000 }))).toBe('kafka');
    expect(unreachableEngine(new (untyped(KafkaJSNonRetriableError))('retries exhausted', { cause: new KafkaJSConnectionError('Connection error') }))).toBe('kafka');
    expect(unreachableEngine(new (untyped(KafkaJSProtocolError))({ message: 'There is no leader for this topic-partition', type: 'LEADER_NOT_AVAILABLE', code: 5, retriable: true }))).toBe('kafka');
    expect(isUnavailable(new (untyped(KafkaJSProtocolError))({ message: 'The request attempted to perform an operation on an invalid topic.', type: 'INVALID_TOPIC_EXCEPTION', code: 17, retriable: false }))).toBe(false);
  });

  it('knows the read-model database away: driver network and selection errors, shutdown codes, FerretDB without its PostgreSQL', () => {
    expect(unreachableEngine(new MongoNetworkError('connection 2 to 127.0.0.1:27017 closed'))).toBe('mongo');
    expect(unreachableEngine(new MongoServerSelectionError('Server selection timed out after 10000 ms', { type: 'Unknown', servers: new Map(), stale: false, compatible: true, heartbeatFrequencyMS: 1, localThresholdMS: 1, setName: null, maxElectionId: null, maxSetVersion: null, commonWireVersion: 0, logicalSessionTimeoutMinutes: null } as never))).toBe('mongo');
    expect(unreachableEngine(new MongoServerError({ ok: 0, code: 91, codeName: 'ShutdownInProgress', errmsg: 'shutting down' }))).toBe('mongo');
    expect(unreachableEngine(ferret('[msg_find.go:344] failed to connect to `user=pushledger database=ferretdb`: 127.0.0.1:5432 (127.0.0.1): dial error: dial tcp 127.0.0.1:5432: connect: connection refused'))).toBe('mongo');
    expect(unreachableEngine(ferret('FATAL: the database system is starting up (SQLSTATE 57P03)'))).toBe('mongo');
    expect(unreachableEngine(Object.assign(new Error('Operation `gateway_idempotency.findOne()` buffering timed out after 10000ms'), { name: 'MongooseError' }))).toBe('mongo');
    expect(isUnavailable(new MongoServerError({ ok: 0, code: 11000, codeName: 'DuplicateKey', errmsg: 'E11000 duplicate key error' }))).toBe(false);
    expect(isUnavailable(ferret('unexpected type of field'))).toBe(false);
  });

  it('looks through cause, AggregateError and rejection reasons', () => {
    expect(unreachableEngine(new Error('append failed', { cause: pgError('57P01') }))).toBe('postgres');
    expect(unreachableEngine(new AggregateError([new Error('a'), sysError('ECONNREFUSED')], 'all failed'))).toBe('network');
    expect(unreachableEngine({ name: 'UnavailableError', type: 'unavailable', message: 'ESDB away' })).toBe('eventstoredb');
    const loop: { name: string; cause?: unknown } = { name: 'Error' };
    loop.cause = loop;
    expect(isUnavailable(loop)).toBe(false);
  });
});
