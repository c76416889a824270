import { Pool } from 'pg';
import type { DeliveryOutcomeKind } from '@pushledger/contracts';

/**
 * The delivery service's own record per (message, device). A pair marked done is never sent again, so a
 * redelivered request sends only what was in flight when the previous attempt died.
 */
export class DeliveryLedger {
  private ready?: Promise<void>;

  constructor(private readonly pool: Pool) {}

  init(): Promise<void> {
    this.ready ??= (async () => {
      await this.pool.query('CREATE SCHEMA IF NOT EXISTS delivery');
      await this.pool.query(`CREATE TABLE IF NOT EXISTS delivery.pairs (
        message_id text NOT NULL, device_id text NOT NULL, app_id text NOT NULL,
        state text NOT NULL DEFAULT 'pending', outcome text, reason text, attempts int NOT NULL DEFAULT 0,
        sends int NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (message_id, device_id))`);
      await this.pool.query(`CREATE TABLE IF NOT EXISTS delivery.app_pauses (
        app_id text PRIMARY KEY, reason text NOT NULL, failed_share real NOT NULL, paused_at timestamptz NOT NULL DEFAULT now())`);
    })().catch((err) => {
      // Two replicas creating the schema at once: the loser's error is harmless, the next call retries.
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  /** Records the pairs and returns the device ids still to send (not yet done). */
  async claim(appId: string, messageId: string, deviceIds: string[]): Promise<Set<string>> {
    await this.pool.query(
      `INSERT INTO delivery.pairs (message_id, device_id, app_id) SELECT $1, d, $2 FROM unnest($3::text[]) AS d ON CONFLICT DO NOTHING`,
      [messageId, appId, deviceIds],
    );
    const { rows } = await this.pool.query<{ device_id: string }>(`SELECT device_id FROM delivery.pairs WHERE message_id = $1 AND device_id = ANY($2::text[]) AND state = 'pending'`, [messageId, deviceIds]);
    return new Set(rows.map((r) => r.device_id));
  }

  /** Counts each real send, so tests and operators can see duplicates. */
  async countSends(messageId: string, deviceIds: string[]): Promise<void> {
    if (!deviceIds.length) return;
    await this.pool.query(`UPDATE delivery.pairs SET sends = sends + 1, updated_at = now() WHERE message_id = $1 AND device_id = ANY($2::text[])`, [messageId, deviceIds]);
  }

  async complete(messageId: string, outcomes: { deviceId: string; outcome: DeliveryOutcomeKind; reason: string | null; attempts: number }[]): Promise<void> {
    if (!outcomes.length) return;
    await this.pool.query(
      `UPDATE delivery.pairs p SET state = 'done', outcome = o.outcome, reason = o.reason, attempts = o.attempts, updated_at = now()
       FROM unnest($2::text[], $3::text[], $4::text[], $5::int[]) AS o(device_id, outcome, reason, attempts)
       WHERE p.message_id = $1 AND p.device_id = o.device_id`,
      [messageId, outcomes.map((o) => o.deviceId), outcomes.map((o) => o.outcome), outcomes.map((o) => o.reason), outcomes.map((o) => o.attempts)],
    );
  }

  async pause(appId: string, reason: string, failedShare: number): Promise<void> {
    await this.pool.query(`INSERT INTO delivery.app_pauses (app_id, reason, failed_share) VALUES ($1, $2, $3) ON CONFLICT (app_id) DO NOTHING`, [appId, reason, failedShare]);
  }

  async pausedReason(appId: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ reason: string }>('SELECT reason FROM delivery.app_pauses WHERE app_id = $1', [appId]);
    return rows[0]?.reason ?? null;
  }

  /** true when a pause was lifted. */
  async resume(appId: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('DELETE FROM delivery.app_pauses WHERE app_id = $1', [appId]);
    return (rowCount ?? 0) > 0;
  }
}
