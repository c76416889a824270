import { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded } from 'kafkajs';
import mongoose from 'mongoose';
import { DatabaseError } from 'pg';
import { OwnerRefusedError, OwnerUnavailableError } from '../../infrastructure/owner.client';
import { toApiError } from './api-exception.filter';

const { MongoNetworkError, MongoServerError } = mongoose.mongo;

describe('toApiError: an engine or owner away is 503 with Retry-After, never 500', () => {
  const outages: [string, unknown][] = [
    ['the owner did not answer', new OwnerUnavailableError('no reply to RegisterToken within 15000 ms')],
    ['the owner says an engine is away', new OwnerRefusedError('unavailable', 'the event store is unreachable')],
    ['PostgreSQL shutting down', Object.assign(new DatabaseError('terminating connection due to administrator command', 0, 'error'), { code: '57P01', severity: 'FATAL' })],
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['Kafka away', new (KafkaJSNumberOfRetriesExceeded as unknown as new (...args: unknown[]) => Error)(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED'), { retryCount: 5, retryTime: 3000 })],
    ['MongoDB away', new MongoNetworkError('connection 3 to 127.0.0.1:27017 closed')],
    ['FerretDB without its PostgreSQL', new MongoServerError({ ok: 0, code: 1, codeName: 'InternalError', errmsg: 'failed to connect to `user=pushledger database=ferretdb`: dial error: connect: connection refused' })],
  ];

  it.each(outages)('%s', (_what, exception) => {
    const err = toApiError(exception);
    expect(err.status).toBe(503);
    expect(Number(err.headers?.['Retry-After'])).toBeGreaterThan(0);
    expect(err.body()).toEqual({ error: { code: 'unavailable', message: expect.any(String) } });
    // The answer names no host, port or engine message.
    expect(JSON.stringify(err.body())).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|ferretdb|administrator/);
  });

  it('a fault of ours stays 500, a refusal of the owner its own status', () => {
    expect(toApiError(new TypeError('x is undefined')).status).toBe(500);
    expect(toApiError(new MongoServerError({ ok: 0, code: 2, codeName: 'BadValue', errmsg: 'bad' })).status).toBe(500);
    expect(toApiError(new OwnerRefusedError('token_invalidated', 'invalidated')).status).toBe(409);
  });
});
