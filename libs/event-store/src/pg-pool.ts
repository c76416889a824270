import { Pool, type PoolConfig } from 'pg';

/**
 * A pool whose lost connections never crash the process. pg-pool listens for errors only on idle clients;
 * a checked-out client whose server went away (a PostgreSQL restart mid-transaction) emits `error` with no
 * listener, which Node turns into an exit. Its queries fail on their own, and the pool drops it on release.
 */
export function createPgPool(config: PoolConfig): Pool {
  const pool = new Pool(config);
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}
