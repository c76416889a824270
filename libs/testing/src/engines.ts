import { randomBytes } from 'crypto';
import { Client } from 'pg';
import mongoose from 'mongoose';
import { Admin, Kafka, logLevel } from 'kafkajs';
import { loadConfig, PushledgerConfig } from '@pushledger/config';
import { createKafka } from '@pushledger/kafka';

/** Configuration for tests: the same defaults as production, overridable by the same variables. */
export function testConfig(overrides: Record<string, string> = {}): PushledgerConfig {
  const env = { ...process.env, ...overrides };
  return loadConfig(env.PUSHLEDGER_SECRET_KEY || env.PUSHLEDGER_SECRET_KEY_FILE ? env : { ...env, PUSHLEDGER_SECRET_KEY: TEST_SECRET_KEY });
}

/** Tests seal credentials with a key of their own process (a stack gets one too), unless the environment names one. */
export const TEST_SECRET_KEY = randomBytes(32).toString('base64');

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** A private PostgreSQL database for one suite; `drop()` removes it. */
export async function createTestDatabase(prefix = 'test'): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const cfg = testConfig();
  const name = uniqueName(prefix).toLowerCase();
  const admin = new Client({ connectionString: cfg.eventStore.postgresUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(cfg.eventStore.postgresUrl, name),
    name,
    async drop() {
      const c = new Client({ connectionString: cfg.eventStore.postgresUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** A private MongoDB-wire database (FerretDB here) for one suite. */
export async function createTestMongo(prefix = 'test'): Promise<{ uri: string; connection: mongoose.Connection; drop(): Promise<void> }> {
  const cfg = testConfig();
  const name = uniqueName(prefix);
  const u = new URL(cfg.mongodbUri);
  u.pathname = `/${name}`;
  const uri = u.toString();
  const connection = await mongoose.createConnection(uri, { serverSelectionTimeoutMS: 15000 }).asPromise();
  return {
    uri,
    connection,
    async drop() {
      await connection.dropDatabase().catch(() => undefined);
      await connection.close();
    },
  };
}

/** A client as the services make it (brokers, TLS, SASL from the configuration, with `env` over the process's). */
export function testKafka(clientId = uniqueName('test'), env: Record<string, string> = {}): Kafka {
  return createKafka(testConfig(env), clientId, undefined, { logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } });
}

/** Topics private to one suite, so suites never read each other's messages. */
export async function createTestTopics(kafka: Kafka, names: string[], numPartitions = 4): Promise<{ topics: string[]; drop(): Promise<void> }> {
  const admin: Admin = kafka.admin();
  await admin.connect();
  const suffix = uniqueName('t');
  const topics = names.map((n) => `${n}.${suffix}`);
  await admin.createTopics({ waitForLeaders: true, topics: topics.map((topic) => ({ topic, numPartitions, replicationFactor: 1 })) });
  return {
    topics,
    async drop() {
      await admin.deleteTopics({ topics }).catch(() => undefined);
      await admin.disconnect();
    },
  };
}

export async function waitFor<T>(probe: () => Promise<T | undefined | null | false>, opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30000);
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${opts.what ?? 'condition'}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
}

/**
 * The process ids of the relays (or projectors) that lead in this event-store database: the sessions holding an
 * advisory lock there, named `pushledger-<tool> pid=N` (PostgresLeaderLock's application name).
 */
export async function leaderPids(url: string, tool: 'relay' | 'projector'): Promise<number[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ application_name: string }>(
      `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND a.application_name LIKE $1`,
      [`pushledger-${tool} pid=%`],
    );
    return rows.map((r) => Number(r.application_name.split('pid=')[1]));
  } finally {
    await c.end();
  }
}
