import mongoose from 'mongoose';
import type { Kafka } from 'kafkajs';
import { createPgPool } from '@pushledger/event-store';

export type HealthState = 'ok' | 'degraded';
export type DependencyState = { status: HealthState; latencyMs: number; error?: string };
export interface HealthReport {
  status: HealthState;
  dependencies: Record<string, DependencyState>;
}
/** What anyone may see: states only. Error text names hosts, ports and users, so it is for the admin token alone. */
export interface PublicHealthReport {
  status: HealthState;
  dependencies: Record<string, HealthState>;
}

/** One probe of a dependency; `close` releases what it holds open between probes. */
export type HealthCheck = (() => Promise<void>) & { close?: () => Promise<void> };

export async function runChecks(checks: Record<string, HealthCheck>, timeoutMs = 3000): Promise<HealthReport> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([check(), new Promise((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs)))]);
        return [name, { status: 'ok', latencyMs: Date.now() - started }] as const;
      } catch (err) {
        return [name, { status: 'degraded', latencyMs: Date.now() - started, error: (err as Error).message }] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const dependencies = Object.fromEntries(entries) as Record<string, DependencyState>;
  return { status: Object.values(dependencies).every((d) => d.status === 'ok') ? 'ok' : 'degraded', dependencies };
}

export function publicHealth(report: HealthReport): PublicHealthReport {
  return { status: report.status, dependencies: Object.fromEntries(Object.entries(report.dependencies).map(([name, d]) => [name, d.status])) };
}

export const kafkaCheck = (kafka: Kafka): HealthCheck => {
  const admin = kafka.admin();
  let connected: Promise<void> | undefined;
  const check: HealthCheck = async () => {
    connected ??= admin.connect();
    await connected.catch((err) => {
      connected = undefined;
      throw err;
    });
    await admin.describeCluster();
  };
  check.close = () => admin.disconnect();
  return check;
};

/** One connection for the process's life, opened by the first probe: a connection per probe costs the server a backend each time. */
export const postgresCheck = (url: string, applicationName = 'pushledger-health'): HealthCheck => {
  // A connection the server dropped: the next probe opens another.
  const pool = createPgPool({ connectionString: url, max: 1, idleTimeoutMillis: 0, connectionTimeoutMillis: 2000, query_timeout: 2000, application_name: applicationName, allowExitOnIdle: true });
  const check: HealthCheck = async () => {
    await pool.query('select 1');
  };
  check.close = () => pool.end();
  return check;
};

export const mongoCheck = (connection: () => mongoose.Connection | undefined): HealthCheck => async () => {
  const conn = connection();
  if (!conn?.db) throw new Error('not connected');
  await conn.db.admin().ping();
};
