import { Pool, type PoolClient } from 'pg';
import { inTransaction } from './pg-transaction';
import { utcDays, type DeliveryOutcomeKind, type MessageOutcomeV1, type OutcomeCountersV1, type PushDayCountsV1 } from '@pushledger/contracts';
import type { RememberedEffect } from '../application/delivery-policy';
import { counterDelta, dailyDelta, emptyCounters, isZero, mergeReasons, type CounterDelta, type OutcomeChange } from '../application/outcome-counters';

export interface LedgerOutcome {
  deviceId: string;
  outcome: DeliveryOutcomeKind;
  reason: string | null;
  attempts: number;
  /** The hash of the token a sent, bounced or invalidated outcome was for: remembered as the device's last effect. */
  tokenHash?: string;
}

const COUNTER_COLUMNS = `sent bigint NOT NULL DEFAULT 0, bounced bigint NOT NULL DEFAULT 0, invalidated bigint NOT NULL DEFAULT 0,
        failed bigint NOT NULL DEFAULT 0, skipped bigint NOT NULL DEFAULT 0, skipped_by_reason jsonb NOT NULL DEFAULT '{}',
        delivered bigint NOT NULL DEFAULT 0, opened bigint NOT NULL DEFAULT 0`;

interface CounterRow {
  campaign_id?: string | null;
  sent: string;
  bounced: string;
  invalidated: string;
  failed: string;
  skipped: string;
  skipped_by_reason: Record<string, number>;
  delivered: string;
  opened: string;
}

interface OutcomeRow {
  device_id: string;
  outcome: DeliveryOutcomeKind;
  reason: string | null;
  attempts: number;
  at: Date;
  delivered_at: Date | null;
  opened_at: Date | null;
}

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
      // Who sent a pair last and until when its send may still be in flight (ledgers from before leases get the columns).
      await this.pool.query('ALTER TABLE delivery.pairs ADD COLUMN IF NOT EXISTS leased_by text, ADD COLUMN IF NOT EXISTS lease_until timestamptz');
      // Outcomes are keyed by device, never by user (personal data stays in the sealed event store).
      await this.pool.query(`CREATE TABLE IF NOT EXISTS delivery.message_outcomes (
        app_id text NOT NULL, message_id text NOT NULL, device_id text NOT NULL, campaign_id text,
        outcome text NOT NULL, reason text, attempts int NOT NULL DEFAULT 0, at timestamptz NOT NULL DEFAULT now(),
        delivered_at timestamptz, opened_at timestamptz,
        PRIMARY KEY (app_id, message_id, device_id))`);
      await this.pool.query(`CREATE TABLE IF NOT EXISTS delivery.message_counters (
        app_id text NOT NULL, message_id text NOT NULL, campaign_id text, ${COUNTER_COLUMNS},
        PRIMARY KEY (app_id, message_id))`);
      await this.pool.query(`CREATE TABLE IF NOT EXISTS delivery.campaign_counters (
        app_id text NOT NULL, campaign_id text NOT NULL, ${COUNTER_COLUMNS},
        PRIMARY KEY (app_id, campaign_id))`);
      // Per app and UTC day, moved in the same transactions as the outcomes and receipts (counted from this table's creation on).
      await this.pool.query(`CREATE TABLE IF NOT EXISTS delivery.daily_counters (
        app_id text NOT NULL, day date NOT NULL, sent bigint NOT NULL DEFAULT 0, bounced bigint NOT NULL DEFAULT 0,
        invalidated bigint NOT NULL DEFAULT 0, failed bigint NOT NULL DEFAULT 0, skipped bigint NOT NULL DEFAULT 0,
        delivered bigint NOT NULL DEFAULT 0, opened bigint NOT NULL DEFAULT 0, PRIMARY KEY (app_id, day))`);
      // What delivery last told the registry about each device, so a send to a device already `sent` sends it no command.
      await this.pool.query(`CREATE TABLE IF NOT EXISTS delivery.device_effects (
        app_id text NOT NULL, device_id text NOT NULL, token_hash text NOT NULL, outcome text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (app_id, device_id))`);
      await this.pool.query(`CREATE TABLE IF NOT EXISTS delivery.cancelled_messages (
        app_id text NOT NULL, message_id text NOT NULL, cancelled_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (app_id, message_id))`);
      await this.pool.query(`CREATE TABLE IF NOT EXISTS delivery.app_pauses (
        app_id text PRIMARY KEY, reason text NOT NULL, failed_share real NOT NULL, paused_at timestamptz NOT NULL DEFAULT now())`);
    })().catch((err) => {
      // Two replicas creating the schema at once: the loser's error is harmless, the next call retries.
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  /**
   * Records the pairs; answers the device ids still to send (not yet done), each with its sends so far, and
   * how long the longest lease another holder has on a pending pair still runs. A leased pair is not to be
   * sent: its send by that holder may still be in flight.
   */
  async claim(appId: string, messageId: string, deviceIds: string[], holder: string): Promise<{ pending: Map<string, number>; heldForMs: number }> {
    await this.pool.query(
      `INSERT INTO delivery.pairs (message_id, device_id, app_id) SELECT $1, d, $2 FROM unnest($3::text[]) AS d ON CONFLICT DO NOTHING`,
      [messageId, appId, deviceIds],
    );
    const { rows } = await this.pool.query<{ device_id: string; sends: number; held_ms: number | null }>(
      `SELECT device_id, sends, CASE WHEN leased_by IS DISTINCT FROM $3 AND lease_until > now() THEN ceil(extract(epoch FROM lease_until - now()) * 1000)::int END AS held_ms
       FROM delivery.pairs WHERE message_id = $1 AND device_id = ANY($2::text[]) AND state = 'pending'`,
      [messageId, deviceIds, holder],
    );
    return {
      pending: new Map(rows.filter((r) => r.held_ms === null).map((r) => [r.device_id, r.sends])),
      heldForMs: Math.max(0, ...rows.map((r) => r.held_ms ?? 0)),
    };
  }

  /** Counts each real send, so tests and operators can see duplicates, and leases the pairs to their sender for `leaseMs`. */
  async countSends(messageId: string, deviceIds: string[], holder: string, leaseMs: number): Promise<void> {
    if (!deviceIds.length) return;
    await this.pool.query(
      `UPDATE delivery.pairs SET sends = sends + 1, leased_by = $3, lease_until = now() + $4 * interval '1 millisecond', updated_at = now()
       WHERE message_id = $1 AND device_id = ANY($2::text[])`,
      [messageId, deviceIds, holder, leaseMs],
    );
  }

  /** Each device's last effect recorded here (sent, bounced, invalidated) and the hash of the token it was for. */
  async lastEffects(appId: string, deviceIds: string[]): Promise<Map<string, RememberedEffect>> {
    if (!deviceIds.length) return new Map();
    const { rows } = await this.pool.query<{ device_id: string; token_hash: string; outcome: RememberedEffect['outcome'] }>(
      'SELECT device_id, token_hash, outcome FROM delivery.device_effects WHERE app_id = $1 AND device_id = ANY($2::text[])',
      [appId, deviceIds],
    );
    return new Map(rows.map((r) => [r.device_id, { tokenHash: r.token_hash, outcome: r.outcome }]));
  }

  /**
   * One transaction: the pairs marked done, one outcome row per pair, and the message's and campaign's
   * counters moved by exactly what the rows changed. The message's counter row is locked first, so writes
   * of one message take turns and each sees the rows the previous one left; a repeated outcome changes no
   * row and moves no counter. `skipped` never replaces a real outcome.
   */
  async record(appId: string, messageId: string, campaignId: string | null, outcomes: LedgerOutcome[], at = new Date()): Promise<void> {
    await this.transaction(async (db) => {
      const stored = await this.lockCounters(db, appId, messageId, campaignId);
      const done = outcomes.filter((o) => o.outcome !== 'skipped');
      if (done.length) {
        await db.query(
          `UPDATE delivery.pairs p SET state = 'done', outcome = o.outcome, reason = o.reason, attempts = o.attempts, updated_at = now()
           FROM unnest($2::text[], $3::text[], $4::text[], $5::int[]) AS o(device_id, outcome, reason, attempts)
           WHERE p.message_id = $1 AND p.device_id = o.device_id`,
          [messageId, done.map((o) => o.deviceId), done.map((o) => o.outcome), done.map((o) => o.reason), done.map((o) => o.attempts)],
        );
      }
      const effects = outcomes.filter((o): o is LedgerOutcome & { tokenHash: string } => o.tokenHash !== undefined);
      if (effects.length) {
        await db.query(
          `INSERT INTO delivery.device_effects (app_id, device_id, token_hash, outcome)
           SELECT $1, e.device_id, e.token_hash, e.outcome FROM unnest($2::text[], $3::text[], $4::text[]) AS e(device_id, token_hash, outcome)
           ON CONFLICT (app_id, device_id) DO UPDATE SET token_hash = excluded.token_hash, outcome = excluded.outcome, updated_at = now()`,
          [appId, effects.map((e) => e.deviceId), effects.map((e) => e.tokenHash), effects.map((e) => e.outcome)],
        );
      }
      if (!outcomes.length) return;
      const ids = outcomes.map((o) => o.deviceId);
      const before = await db.query<{ device_id: string; outcome: DeliveryOutcomeKind; reason: string | null; at: Date }>(
        'SELECT device_id, outcome, reason, at FROM delivery.message_outcomes WHERE app_id = $1 AND message_id = $2 AND device_id = ANY($3::text[])',
        [appId, messageId, ids],
      );
      const prior = new Map(before.rows.map((r) => [r.device_id, r]));
      const written = await db.query<{ device_id: string; outcome: DeliveryOutcomeKind; reason: string | null }>(
        `INSERT INTO delivery.message_outcomes (app_id, message_id, device_id, campaign_id, outcome, reason, attempts, at)
         SELECT $1, $2, o.device_id, $3, o.outcome, o.reason, o.attempts, $8 FROM unnest($4::text[], $5::text[], $6::text[], $7::int[]) AS o(device_id, outcome, reason, attempts)
         ON CONFLICT (app_id, message_id, device_id) DO UPDATE SET outcome = excluded.outcome, reason = excluded.reason, attempts = excluded.attempts, at = excluded.at
           WHERE excluded.outcome <> 'skipped' AND (message_outcomes.outcome, message_outcomes.reason) IS DISTINCT FROM (excluded.outcome, excluded.reason)
         RETURNING device_id, outcome, reason`,
        [appId, messageId, campaignId, ids, outcomes.map((o) => o.outcome), outcomes.map((o) => o.reason), outcomes.map((o) => o.attempts), at],
      );
      const changes: OutcomeChange[] = written.rows.map((r) => ({ before: prior.get(r.device_id) ?? null, after: { outcome: r.outcome, reason: r.reason } }));
      const delta = counterDelta(changes);
      if (isZero(delta)) return;
      await this.addCounters(db, 'message_counters', 'message_id', appId, messageId, stored.skipped_by_reason, delta);
      if (campaignId) {
        const campaign = await db.query<{ skipped_by_reason: Record<string, number> }>(
          `INSERT INTO delivery.campaign_counters (app_id, campaign_id) VALUES ($1, $2)
           ON CONFLICT (app_id, campaign_id) DO UPDATE SET app_id = excluded.app_id RETURNING skipped_by_reason`,
          [appId, campaignId],
        );
        await this.addCounters(db, 'campaign_counters', 'campaign_id', appId, campaignId, campaign.rows[0].skipped_by_reason, delta);
      }
      for (const [day, d] of dailyDelta(changes, at)) {
        await db.query(
          `INSERT INTO delivery.daily_counters (app_id, day, sent, bounced, invalidated, failed, skipped) VALUES ($1, $2::date, $3, $4, $5, $6, $7)
           ON CONFLICT (app_id, day) DO UPDATE SET sent = daily_counters.sent + excluded.sent, bounced = daily_counters.bounced + excluded.bounced,
             invalidated = daily_counters.invalidated + excluded.invalidated, failed = daily_counters.failed + excluded.failed, skipped = daily_counters.skipped + excluded.skipped`,
          [appId, day, d.sent, d.bounced, d.invalidated, d.failed, d.skipped],
        );
      }
    });
  }

  /** Outcomes by the UTC day they were recorded, receipts by the day they report; days without any are zeros. */
  async dailyCounters(appId: string, from: string, to: string): Promise<PushDayCountsV1[]> {
    const { rows } = await this.pool.query<{ day: string } & Record<'sent' | 'bounced' | 'invalidated' | 'failed' | 'skipped' | 'delivered' | 'opened', string>>(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, sent, bounced, invalidated, failed, skipped, delivered, opened FROM delivery.daily_counters
       WHERE app_id = $1 AND day BETWEEN $2::date AND $3::date`,
      [appId, from, to],
    );
    const stored = new Map(rows.map((r) => [r.day, r]));
    return utcDays(from, to).map((date) => {
      const r = stored.get(date);
      return { date, sent: Number(r?.sent ?? 0), bounced: Number(r?.bounced ?? 0), invalidated: Number(r?.invalidated ?? 0), failed: Number(r?.failed ?? 0), skipped: Number(r?.skipped ?? 0), delivered: Number(r?.delivered ?? 0), opened: Number(r?.opened ?? 0) };
    });
  }

  /** A receipt counts once per pair and kind; false when the ledger has no outcome for the pair. */
  async applyReceipt(appId: string, messageId: string, deviceId: string, kind: 'delivered' | 'opened', at: Date): Promise<boolean> {
    return this.transaction(async (db) => {
      const counters = await db.query<{ campaign_id: string | null }>('SELECT campaign_id FROM delivery.message_counters WHERE app_id = $1 AND message_id = $2 FOR UPDATE', [appId, messageId]);
      if (!counters.rows.length) return false;
      const column = kind === 'delivered' ? 'delivered' : 'opened';
      const set = await db.query(`UPDATE delivery.message_outcomes SET ${column}_at = $4 WHERE app_id = $1 AND message_id = $2 AND device_id = $3 AND ${column}_at IS NULL`, [appId, messageId, deviceId, at]);
      if (!set.rowCount) return (await db.query('SELECT 1 FROM delivery.message_outcomes WHERE app_id = $1 AND message_id = $2 AND device_id = $3', [appId, messageId, deviceId])).rowCount! > 0;
      await db.query(`UPDATE delivery.message_counters SET ${column} = ${column} + 1 WHERE app_id = $1 AND message_id = $2`, [appId, messageId]);
      const campaignId = counters.rows[0].campaign_id;
      if (campaignId) {
        await db.query(
          `INSERT INTO delivery.campaign_counters (app_id, campaign_id, ${column}) VALUES ($1, $2, 1) ON CONFLICT (app_id, campaign_id) DO UPDATE SET ${column} = campaign_counters.${column} + 1`,
          [appId, campaignId],
        );
      }
      await db.query(
        `INSERT INTO delivery.daily_counters (app_id, day, ${column}) VALUES ($1, ($2::timestamptz AT TIME ZONE 'UTC')::date, 1)
         ON CONFLICT (app_id, day) DO UPDATE SET ${column} = daily_counters.${column} + 1`,
        [appId, at],
      );
      return true;
    });
  }

  /** Device id order, keyset-paged: stable while outcomes are still being written. */
  async outcomesPage(appId: string, messageId: string, limit: number, after: string | null): Promise<{ outcomes: MessageOutcomeV1[]; next: string | null }> {
    const { rows } = await this.pool.query<OutcomeRow>(
      `SELECT device_id, outcome, reason, attempts, at, delivered_at, opened_at FROM delivery.message_outcomes
       WHERE app_id = $1 AND message_id = $2 AND ($3::text IS NULL OR device_id > $3) ORDER BY device_id LIMIT $4`,
      [appId, messageId, after, limit + 1],
    );
    const page = rows.slice(0, limit).map(toOutcome);
    return { outcomes: page, next: rows.length > limit ? page[page.length - 1].deviceId : null };
  }

  async outcome(appId: string, messageId: string, deviceId: string): Promise<MessageOutcomeV1 | null> {
    const { rows } = await this.pool.query<OutcomeRow>(
      'SELECT device_id, outcome, reason, attempts, at, delivered_at, opened_at FROM delivery.message_outcomes WHERE app_id = $1 AND message_id = $2 AND device_id = $3',
      [appId, messageId, deviceId],
    );
    return rows[0] ? toOutcome(rows[0]) : null;
  }

  async messageCounters(appId: string, messageId: string): Promise<(OutcomeCountersV1 & { campaignId: string | null }) | null> {
    const { rows } = await this.pool.query<CounterRow>('SELECT * FROM delivery.message_counters WHERE app_id = $1 AND message_id = $2', [appId, messageId]);
    return rows[0] ? { campaignId: rows[0].campaign_id ?? null, ...toCounters(rows[0]) } : null;
  }

  async campaignCounters(appId: string, campaignId: string): Promise<OutcomeCountersV1> {
    const { rows } = await this.pool.query<CounterRow>('SELECT * FROM delivery.campaign_counters WHERE app_id = $1 AND campaign_id = $2', [appId, campaignId]);
    return rows[0] ? toCounters(rows[0]) : emptyCounters();
  }

  private async lockCounters(db: PoolClient, appId: string, messageId: string, campaignId: string | null): Promise<{ skipped_by_reason: Record<string, number> }> {
    const { rows } = await db.query<{ skipped_by_reason: Record<string, number> }>(
      `INSERT INTO delivery.message_counters (app_id, message_id, campaign_id) VALUES ($1, $2, $3)
       ON CONFLICT (app_id, message_id) DO UPDATE SET app_id = excluded.app_id RETURNING skipped_by_reason`,
      [appId, messageId, campaignId],
    );
    return rows[0];
  }

  private async addCounters(db: PoolClient, table: 'message_counters' | 'campaign_counters', idColumn: 'message_id' | 'campaign_id', appId: string, id: string, storedReasons: Record<string, number>, d: CounterDelta): Promise<void> {
    await db.query(
      `UPDATE delivery.${table} SET sent = sent + $3, bounced = bounced + $4, invalidated = invalidated + $5, failed = failed + $6, skipped = skipped + $7, skipped_by_reason = $8
       WHERE app_id = $1 AND ${idColumn} = $2`,
      [appId, id, d.sent, d.bounced, d.invalidated, d.failed, d.skipped, JSON.stringify(mergeReasons(storedReasons, d.skippedByReason))],
    );
  }

  private transaction<T>(work: (db: PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, work);
  }

  async cancel(appId: string, messageId: string): Promise<void> {
    await this.init();
    await this.pool.query('INSERT INTO delivery.cancelled_messages (app_id, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [appId, messageId]);
  }

  async isCancelled(appId: string, messageId: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('SELECT 1 FROM delivery.cancelled_messages WHERE app_id = $1 AND message_id = $2', [appId, messageId]);
    return (rowCount ?? 0) > 0;
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

function toOutcome(r: OutcomeRow): MessageOutcomeV1 {
  return { deviceId: r.device_id, outcome: r.outcome, reason: r.reason, attempts: r.attempts, at: r.at.toISOString(), deliveredAt: r.delivered_at?.toISOString() ?? null, openedAt: r.opened_at?.toISOString() ?? null };
}

function toCounters(r: CounterRow): OutcomeCountersV1 {
  return {
    sent: Number(r.sent),
    bounced: Number(r.bounced),
    invalidated: Number(r.invalidated),
    failed: Number(r.failed),
    skipped: Number(r.skipped),
    skippedByReason: r.skipped_by_reason ?? {},
    delivered: Number(r.delivered),
    opened: Number(r.opened),
  };
}
