import type { Pool } from 'pg';
import { QuotaAnswer, QuotaLimiter, quotaBurst, reserveFrom } from '../application/quota-limiter';
import { inTransaction } from './pg-transaction';

/**
 * The FCM quota of each app as one token bucket in delivery's PostgreSQL, so N replicas together stay under
 * the app's quota rather than each under all of it. One row lock per provider batch (up to 500 messages).
 */
/** Apps whose bucket row this process knows exists; past it the set starts over (a forgotten app costs one more insert). */
const MAX_KNOWN_APPS = 10_000;

export class SharedQuota implements QuotaLimiter {
  private ready?: Promise<void>;
  private readonly known = new Set<string>();

  constructor(private readonly pool: Pool) {}

  private init(): Promise<void> {
    this.ready ??= (async () => {
      await this.pool.query('CREATE SCHEMA IF NOT EXISTS delivery');
      await this.pool.query(`CREATE TABLE IF NOT EXISTS delivery.quota_buckets (app_id text PRIMARY KEY, tokens float8 NOT NULL, at_ms float8 NOT NULL)`);
    })().catch((err) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  async reserve(appId: string, n: number, perMinute: number, maxWaitMs: number): Promise<QuotaAnswer> {
    await this.init();
    const answer = await inTransaction(this.pool, async (db) => {
      // A full bucket first, so the first reservations of two replicas lock one row rather than each start full.
      if (!this.known.has(appId)) {
        await db.query(`INSERT INTO delivery.quota_buckets (app_id, tokens, at_ms) VALUES ($1, $2, extract(epoch FROM clock_timestamp()) * 1000) ON CONFLICT (app_id) DO NOTHING`, [appId, quotaBurst(perMinute)]);
      }
      // The database's clock, so replicas on machines whose clocks differ refill one bucket alike.
      const { rows } = await db.query<{ tokens: number; at_ms: number; now_ms: string }>(
        `SELECT tokens, at_ms, extract(epoch FROM clock_timestamp()) * 1000 AS now_ms FROM delivery.quota_buckets WHERE app_id = $1 FOR UPDATE`,
        [appId],
      );
      const row = rows[0];
      const taken = reserveFrom({ tokens: row.tokens, atMs: row.at_ms }, n, perMinute, maxWaitMs, Number(row.now_ms));
      await db.query(`UPDATE delivery.quota_buckets SET tokens = $2, at_ms = $3 WHERE app_id = $1`, [appId, taken.bucket.tokens, taken.bucket.atMs]);
      return taken.answer;
    });
    if (this.known.size >= MAX_KNOWN_APPS) this.known.clear();
    this.known.add(appId);
    return answer;
  }
}
