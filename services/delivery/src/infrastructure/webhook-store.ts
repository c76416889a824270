import type { Pool } from 'pg';
import type { ListPageV1, PagedV1, SealedCredentialV1, WebhookV1 } from '@pushledger/contracts';

const DELIVERED_KEPT_DAYS = 7;

export interface WebhookRecord extends WebhookV1 {
  appId: string;
  secret: SealedCredentialV1;
}

/**
 * One POST still owed to a receiver: its body is sealed (it may hold personal data) and emptied once answered
 * 2xx; the row stays for DELIVERED_KEPT_DAYS so a redelivered Kafka message does not owe it again.
 */
export interface PendingDelivery {
  seq: string;
  appId: string;
  webhookId: string;
  eventId: string;
  lane: string;
  body: SealedCredentialV1;
  firstAt: Date;
  attempts: number;
}

export interface NewDelivery {
  appId: string;
  webhookId: string;
  eventId: string;
  lane: string;
  body: SealedCredentialV1;
}

/**
 * Webhook subscriptions and the deliveries owed to them, in delivery's PostgreSQL schema. Deliveries of one
 * (webhook, lane) go out in order: only the oldest pending one of a lane is ever due. A delivery is leased
 * while it is being sent, so several delivery replicas share the work without sending one twice at once.
 */
export class WebhookStore {
  private ready?: Promise<void>;

  constructor(private readonly pool: Pool) {}

  init(): Promise<void> {
    this.ready ??= (async () => {
      await this.pool.query('CREATE SCHEMA IF NOT EXISTS delivery');
      await this.pool.query(`CREATE TABLE IF NOT EXISTS delivery.webhooks (
        app_id text NOT NULL, webhook_id text NOT NULL, url text NOT NULL, events text[] NOT NULL, secret jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(), disabled_at timestamptz, disabled_reason text, deleted_at timestamptz,
        PRIMARY KEY (app_id, webhook_id))`);
      await this.pool.query(`CREATE TABLE IF NOT EXISTS delivery.webhook_deliveries (
        seq bigserial PRIMARY KEY, app_id text NOT NULL, webhook_id text NOT NULL, event_id text NOT NULL, lane text NOT NULL,
        body jsonb NOT NULL, first_at timestamptz NOT NULL DEFAULT now(), due_at timestamptz NOT NULL DEFAULT now(),
        attempts int NOT NULL DEFAULT 0, lease_until timestamptz, last_error text, delivered_at timestamptz,
        UNIQUE (webhook_id, event_id))`);
      await this.pool.query('CREATE INDEX IF NOT EXISTS webhook_deliveries_owed ON delivery.webhook_deliveries (webhook_id, lane, seq) WHERE delivered_at IS NULL');
    })().catch((err) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  async create(w: Omit<WebhookRecord, 'createdAt' | 'disabledAt' | 'disabledReason'>): Promise<WebhookV1> {
    await this.init();
    // A retried command finds the webhook it created.
    await this.pool.query(
      `INSERT INTO delivery.webhooks (app_id, webhook_id, url, events, secret) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (app_id, webhook_id) DO NOTHING`,
      [w.appId, w.id, w.url, w.events, JSON.stringify(w.secret)],
    );
    const { rows } = await this.pool.query(`SELECT ${WEBHOOK_COLUMNS} FROM delivery.webhooks WHERE app_id = $1 AND webhook_id = $2`, [w.appId, w.id]);
    return webhookOf(rows[0]);
  }

  /**
   * The app's live webhooks in creation order, a page at a time. Ordered by the creation time in
   * milliseconds, as answered, so a page's last key, sent back, continues exactly after it.
   */
  async page(appId: string, page?: ListPageV1): Promise<PagedV1<WebhookV1>> {
    await this.init();
    const limit = page?.limit ?? null;
    const { rows } = await this.pool.query(
      `SELECT ${WEBHOOK_COLUMNS} FROM delivery.webhooks
       WHERE app_id = $1 AND deleted_at IS NULL AND ($2::timestamptz IS NULL OR (date_trunc('milliseconds', created_at), webhook_id) > ($2::timestamptz, $3::text))
       ORDER BY date_trunc('milliseconds', created_at), webhook_id LIMIT $4`,
      [appId, page?.after?.[0] ?? null, page?.after?.[1] ?? null, limit === null ? null : limit + 1],
    );
    const items = rows.slice(0, limit ?? rows.length).map(webhookOf);
    const last = items[items.length - 1];
    return { items, next: limit !== null && rows.length > limit && last ? [last.createdAt, last.id] : null };
  }

  /** false when the app has no such webhook. Its pending deliveries go with it. */
  async delete(appId: string, webhookId: string): Promise<boolean> {
    await this.init();
    const { rowCount } = await this.pool.query(`UPDATE delivery.webhooks SET deleted_at = now() WHERE app_id = $1 AND webhook_id = $2 AND deleted_at IS NULL`, [appId, webhookId]);
    await this.dropOwed(appId, webhookId);
    return (rowCount ?? 0) > 0;
  }

  /** Every live webhook of every app. */
  async subscribers(): Promise<WebhookRecord[]> {
    await this.init();
    const { rows } = await this.pool.query(`SELECT app_id, webhook_id, url, events, secret, created_at FROM delivery.webhooks WHERE deleted_at IS NULL AND disabled_at IS NULL`);
    return rows.map((r) => ({ appId: r.app_id, id: r.webhook_id, url: r.url, events: r.events, secret: r.secret, createdAt: r.created_at.toISOString(), disabledAt: null, disabledReason: null }));
  }

  async secretOf(appId: string, webhookId: string): Promise<{ url: string; secret: SealedCredentialV1 } | null> {
    const { rows } = await this.pool.query(`SELECT url, secret FROM delivery.webhooks WHERE app_id = $1 AND webhook_id = $2 AND deleted_at IS NULL AND disabled_at IS NULL`, [appId, webhookId]);
    return rows[0] ?? null;
  }

  /** Idempotent per (webhook, event): a redelivered Kafka message adds nothing. */
  async enqueue(deliveries: NewDelivery[]): Promise<void> {
    if (!deliveries.length) return;
    await this.init();
    await this.pool.query(
      `INSERT INTO delivery.webhook_deliveries (app_id, webhook_id, event_id, lane, body)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[]) ON CONFLICT (webhook_id, event_id) DO NOTHING`,
      [deliveries.map((d) => d.appId), deliveries.map((d) => d.webhookId), deliveries.map((d) => d.eventId), deliveries.map((d) => d.lane), deliveries.map((d) => JSON.stringify(d.body))],
    );
  }

  /**
   * Leases up to `limit` due deliveries, each the oldest pending one of its lane, of webhooks not in
   * `busy` (those being sent by this process). The lease is taken by a conditional update, so of two
   * replicas that chose the same delivery one gets it.
   */
  async leaseDue(busy: string[], limit: number, leaseMs: number): Promise<PendingDelivery[]> {
    await this.init();
    const { rows } = await this.pool.query(
      `WITH heads AS (
         SELECT DISTINCT ON (webhook_id, lane) seq, due_at, lease_until FROM delivery.webhook_deliveries
         WHERE delivered_at IS NULL AND NOT (webhook_id = ANY($1::text[])) ORDER BY webhook_id, lane, seq),
       due AS (SELECT seq FROM heads WHERE due_at <= now() AND (lease_until IS NULL OR lease_until < now()) ORDER BY seq LIMIT $2)
       UPDATE delivery.webhook_deliveries d SET lease_until = now() + make_interval(secs => $3::double precision / 1000)
       FROM due WHERE d.seq = due.seq AND (d.lease_until IS NULL OR d.lease_until < now())
       RETURNING d.seq, d.app_id, d.webhook_id, d.event_id, d.lane, d.body, d.first_at, d.attempts`,
      [busy, limit, leaseMs],
    );
    return rows.map((r) => ({ seq: String(r.seq), appId: r.app_id, webhookId: r.webhook_id, eventId: r.event_id, lane: r.lane, body: r.body, firstAt: r.first_at, attempts: r.attempts }));
  }

  async delivered(seq: string): Promise<void> {
    await this.pool.query(`UPDATE delivery.webhook_deliveries SET delivered_at = now(), body = 'null'::jsonb, lease_until = NULL WHERE seq = $1`, [seq]);
  }

  /** Forgets deliveries answered long enough ago that no redelivery of their Kafka message can come. */
  async purgeDelivered(): Promise<void> {
    await this.pool.query(`DELETE FROM delivery.webhook_deliveries WHERE delivered_at < now() - make_interval(days => ${DELIVERED_KEPT_DAYS})`);
  }

  async retryLater(seq: string, dueAt: Date, error: string): Promise<void> {
    await this.pool.query('UPDATE delivery.webhook_deliveries SET attempts = attempts + 1, due_at = $2, lease_until = NULL, last_error = $3 WHERE seq = $1', [seq, dueAt, error]);
  }

  /** Retried for the whole period and still failing: nothing more is sent to it, and what it was owed is dropped. */
  async disable(appId: string, webhookId: string, reason: string): Promise<void> {
    await this.pool.query('UPDATE delivery.webhooks SET disabled_at = now(), disabled_reason = $3 WHERE app_id = $1 AND webhook_id = $2 AND disabled_at IS NULL', [appId, webhookId, reason]);
    await this.dropOwed(appId, webhookId);
  }

  async dropOwed(appId: string, webhookId: string): Promise<void> {
    await this.pool.query('DELETE FROM delivery.webhook_deliveries WHERE app_id = $1 AND webhook_id = $2 AND delivered_at IS NULL', [appId, webhookId]);
  }
}

const WEBHOOK_COLUMNS = 'webhook_id, url, events, created_at, disabled_at, disabled_reason';

function webhookOf(r: { webhook_id: string; url: string; events: string[]; created_at: Date; disabled_at: Date | null; disabled_reason: string | null }): WebhookV1 {
  return { id: r.webhook_id, url: r.url, events: r.events, createdAt: r.created_at.toISOString(), disabledAt: r.disabled_at?.toISOString() ?? null, disabledReason: r.disabled_reason };
}
