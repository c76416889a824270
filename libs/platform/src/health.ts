import { Client } from 'pg';
import mongoose from 'mongoose';
import type { Kafka } from 'kafkajs';

export type DependencyState = { status: 'up' | 'down'; latencyMs: number; error?: string };
export type HealthCheck = () => Promise<void>;

export async function runChecks(checks: Record<string, HealthCheck>, timeoutMs = 3000): Promise<{ status: 'ok' | 'degraded'; dependencies: Record<string, DependencyState> }> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      const started = Date.now();
      try {
        await Promise.race([check(), new Promise((_, rej) => setTimeout(() => rej(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs))]);
        return [name, { status: 'up', latencyMs: Date.now() - started }] as const;
      } catch (err) {
        return [name, { status: 'down', latencyMs: Date.now() - started, error: (err as Error).message }] as const;
      }
    }),
  );
  const dependencies = Object.fromEntries(entries) as Record<string, DependencyState>;
  return { status: Object.values(dependencies).every((d) => d.status === 'up') ? 'ok' : 'degraded', dependencies };
}

export const kafkaCheck = (kafka: Kafka): HealthCheck => {
  const admin = kafka.admin();
  let connected: Promise<void> | undefined;
  return async () => {
    connected ??= admin.connect();
    await connected.catch((err) => {
      connected = undefined;
      throw err;
    });
    await admin.describeCluster();
  };
};

export const postgresCheck = (url: string): HealthCheck => async () => {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  await c.connect();
  try {
    await c.query('select 1');
  } finally {
    await c.end();
  }
};

export const mongoCheck = (connection: () => mongoose.Connection | undefined): HealthCheck => async () => {
  const conn = connection();
  if (!conn?.db) throw new Error('not connected');
  await conn.db.admin().ping();
};
