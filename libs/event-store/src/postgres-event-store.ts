/**
 * PostgreSQL adapter, on its own small schema rather than a library: the Node event-store libraries for
 * PostgreSQL either number events with a plain sequence (a subscriber can skip a slower concurrent
 * transaction), or fix that with a composite (xid, id) checkpoint that does not fit this port's single
 * bigint position, and none maps EventStoreDB's expected-revision and idempotency semantics. The whole
 * adapter is a few statements we can reason about.
 *
 * Global ordering: appends are serialized on one counter row (`global_position`). An append locks its
 * stream row first, then bumps the counter (row lock held until COMMIT) and inserts its events with the
 * positions it got, normally all in one autocommit statement so the global lock never waits on a client
 * round trip. Positions are therefore handed out in commit order and no transaction can become visible
 * with a lower position than one already visible: reading `position > checkpoint` never skips a slower
 * concurrent writer, and a rolled-back append rolls back its counter bump too (no gaps). The price is one
 * commit (WAL flush) at a time: extra writers add no throughput, batches do (bench/results/event-store.json).
 * Transaction-visibility ordering (xid8 + snapshot xmin) would let commits overlap, but needs an
 * (xid, id) checkpoint or an extra sequencing step to get back to the single bigint this port exposes.
 *
 * Idempotency: a batch whose ids are all stored, contiguously, where `expected` puts it, is a success that
 * writes nothing (EventStoreDB's rule). Partial overlaps and ids stored in another stream are rejected
 * (DuplicateEventIdError); the unique index on event_id backs this up under races.
 */
import { Client, Pool, type PoolClient } from 'pg';
import { idempotentResult, satisfiesExpected, validateAppend, type StoredPlace } from './append-rules';
import { DuplicateEventIdError, EventStoreError, WrongExpectedVersionError } from './event-store.errors';
import type {
  AppendOptions,
  AppendResult,
  CheckpointStore,
  EventFilter,
  EventStore,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  StoredEvent,
  SubscribeToAllOptions,
  Subscription,
} from './event-store.port';
import { startPollingSubscription, type PollingOptions } from './polling-subscription';

export interface PostgresEventStoreOptions {
  connectionString: string;
  /** PostgreSQL schema holding the tables; created on start. */
  schema?: string;
  poolSize?: number;
  polling?: PollingOptions;
  /** Create the schema on start (idempotent). Default true. */
  migrate?: boolean;
}

export interface PostgresAppendOptions extends AppendOptions {
  /**
   * Test-only: after taking positions and inserting, keep the transaction open this long before
   * committing (or rolling back), to prove subscribers never skip or see a slow writer's events twice.
   */
  __testHold?: { ms: number; rollback?: boolean };
}

interface EventRow {
  position: string;
  event_id: string;
  stream_id: string;
  stream_revision: string;
  type: string;
  data: unknown;
  metadata: StoredEvent['metadata'];
}

/** WHERE clauses for an event filter, pushing their parameters onto `params`. */
function filterClauses(filter: EventFilter | undefined, params: unknown[]): string[] {
  const where: string[] = [];
  if (filter?.eventTypes) {
    params.push(filter.eventTypes);
    where.push(`type = ANY($${params.length}::text[])`);
  }
  if (filter?.streamPrefixes) {
    params.push(filter.streamPrefixes.map(likePrefix));
    where.push(`stream_id LIKE ANY($${params.length}::text[])`);
  }
  return where;
}

const EVENT_COLUMNS = 'position, event_id::text AS event_id, stream_id, stream_revision, type, data, metadata';
const toEvent = (r: EventRow): StoredEvent => ({
  eventId: r.event_id,
  type: r.type,
  data: r.data,
  metadata: r.metadata,
  stream: r.stream_id,
  streamRevision: BigInt(r.stream_revision),
  position: BigInt(r.position),
});

const likePrefix = (p: string): string => p.replace(/[\\%_]/g, '\\$&') + '%';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function postgresSchemaSql(schema: string): string[] {
  const s = schema;
  return [
    `CREATE SCHEMA IF NOT EXISTS ${s}`,
    `CREATE TABLE IF NOT EXISTS ${s}.global_position (id smallint PRIMARY KEY CHECK (id = 1), position bigint NOT NULL)`,
    `INSERT INTO ${s}.global_position (id, position) VALUES (1, 0) ON CONFLICT (id) DO NOTHING`,
    `CREATE TABLE IF NOT EXISTS ${s}.streams (stream_id text PRIMARY KEY, revision bigint NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS ${s}.events (
       position bigint PRIMARY KEY,
       event_id uuid NOT NULL UNIQUE,
       stream_id text NOT NULL,
       stream_revision bigint NOT NULL,
       type text NOT NULL,
       data jsonb NOT NULL,
       metadata jsonb NOT NULL,
       recorded_at timestamptz NOT NULL DEFAULT now(),
       UNIQUE (stream_id, stream_revision)
     )`,
    `CREATE TABLE IF NOT EXISTS ${s}.checkpoints (name text PRIMARY KEY, position bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`,
  ];
}

export class PostgresCheckpointStore implements CheckpointStore {
  constructor(
    private readonly pool: Pool,
    private readonly schema: string,
  ) {}
  async load(name: string): Promise<bigint | undefined> {
    const { rows } = await this.pool.query<{ position: string }>(`SELECT position FROM ${this.schema}.checkpoints WHERE name = $1`, [name]);
    return rows[0] ? BigInt(rows[0].position) : undefined;
  }
  async save(name: string, position: bigint): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.schema}.checkpoints (name, position) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()`,
      [name, position.toString()],
    );
  }
}

export class PostgresEventStore implements EventStore {
  readonly kind = 'postgres' as const;
  readonly checkpoints: PostgresCheckpointStore;
  private readonly listeners = new Set<() => void>();
  private readonly subscriptions = new Set<Subscription>();
  private listenClient: Client | undefined;
  private listenRetry: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly channel: string;

  private constructor(
    private readonly pool: Pool,
    private readonly schema: string,
    private readonly options: PostgresEventStoreOptions,
  ) {
    this.checkpoints = new PostgresCheckpointStore(pool, schema);
    this.channel = `${schema}_appended`;
  }

  static async connect(options: PostgresEventStoreOptions): Promise<PostgresEventStore> {
    const schema = options.schema ?? 'event_store';
    if (!/^[a-z_][a-z0-9_]{0,40}$/.test(schema)) throw new EventStoreError(`invalid schema name: ${schema}`);
    const pool = new Pool({ connectionString: options.connectionString, max: options.poolSize ?? 20 });
    // An idle client losing its connection must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    const store = new PostgresEventStore(pool, schema, options);
    try {
      if (options.migrate !== false) await store.migrate();
    } catch (err) {
      await pool.end();
      throw err;
    }
    return store;
  }

  /** Idempotent; an advisory lock keeps concurrent starters from racing on the catalog. */
  async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`pushledger.event-store.migrate.${this.schema}`]);
      for (const sql of postgresSchemaSql(this.schema)) await client.query(sql);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async appendToStream(stream: string, events: NewEvent[], options: PostgresAppendOptions): Promise<AppendResult> {
    validateAppend(stream, events, options.expectedRevision);
    if (events.length > 0) {
      const fast = await this.tryFastAppend(stream, events, options);
      if (fast) return fast;
    }
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const outcome = await this.appendInTransaction(client, stream, events, options);
      await client.query(outcome.written ? 'COMMIT' : 'ROLLBACK');
      return outcome.result;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      throw mapPgError(err, stream, events);
    } finally {
      client.release(broken);
    }
  }

  /**
   * The common case in one autocommit statement, so the global counter's lock is held only inside the
   * server (no client round trip before COMMIT). It writes only when the stream is where `expected` says
   * and none of the ids is stored; anything else (conflict, retry, duplicate id) returns undefined and
   * the transactional path below works out the exact answer.
   */
  private async tryFastAppend(stream: string, events: NewEvent[], options: PostgresAppendOptions): Promise<AppendResult | undefined> {
    const s = this.schema;
    const expected = options.expectedRevision;
    const guard = 'NOT EXISTS (SELECT 1 FROM existing)';
    const streamSql =
      expected === 'any'
        ? `INSERT INTO ${s}.streams (stream_id, revision) SELECT $3, $2::bigint - 1 WHERE ${guard}
           ON CONFLICT (stream_id) DO UPDATE SET revision = ${s}.streams.revision + $2::bigint RETURNING revision`
        : expected === 'no_stream'
          ? `INSERT INTO ${s}.streams (stream_id, revision) SELECT $3, $2::bigint - 1 WHERE ${guard}
             ON CONFLICT (stream_id) DO NOTHING RETURNING revision`
          : expected === 'stream_exists'
            ? `UPDATE ${s}.streams SET revision = revision + $2::bigint WHERE stream_id = $3 AND revision >= 0 AND ${guard} RETURNING revision`
            : `UPDATE ${s}.streams SET revision = revision + $2::bigint WHERE stream_id = $3 AND revision = $6::bigint AND ${guard} RETURNING revision`;
    const ids = events.map((e) => e.eventId.toLowerCase());
    const batch = JSON.stringify(events.map((e, i) => ({ id: ids[i], type: e.type, data: e.data, metadata: e.metadata })));
    // `g` reads `st`, so the stream lock is always taken before the global one (no lock-order deadlock).
    const sql = `WITH existing AS (
        SELECT 1 FROM ${s}.events WHERE event_id = ANY($1::uuid[])
      ), st AS (
        ${streamSql}
      ), g AS (
        UPDATE ${s}.global_position SET position = position + $2::bigint WHERE id = 1 AND EXISTS (SELECT 1 FROM st) RETURNING position
      ), ins AS (
        INSERT INTO ${s}.events (position, event_id, stream_id, stream_revision, type, data, metadata)
        SELECT g.position - $2::bigint + e.ord, (e.doc->>'id')::uuid, $3, st.revision - $2::bigint + e.ord, e.doc->>'type', e.doc->'data', e.doc->'metadata'
        FROM g, st, jsonb_array_elements($4::jsonb) WITH ORDINALITY AS e(doc, ord)
      )
      SELECT st.revision::text AS revision, g.position::text AS position, pg_notify($5, '') FROM st, g`;
    const params = [ids, events.length, stream, batch, this.channel, ...(typeof expected === 'bigint' ? [expected.toString()] : [])];

    const hold = options.__testHold;
    const client = hold ? await this.pool.connect() : undefined;
    let broken: Error | undefined;
    try {
      if (client) await client.query('BEGIN');
      // Named, so each connection plans it once.
      const name = `es_append_${typeof expected === 'bigint' ? 'exact' : expected}_${this.schema}`;
      const { rows } = await (client ?? this.pool).query<{ revision: string; position: string }>({ name, text: sql, values: params });
      if (client && hold) {
        await sleep(hold.ms);
        await client.query(hold.rollback || rows.length === 0 ? 'ROLLBACK' : 'COMMIT');
        if (hold.rollback && rows.length > 0) throw new EventStoreError('test hold: rolled back on purpose');
      }
      return rows[0] ? { nextExpectedRevision: BigInt(rows[0].revision), position: BigInt(rows[0].position) } : undefined;
    } catch (err) {
      if (client) await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      // A concurrent append stored one of these ids after our snapshot: let the slow path sort it out.
      if ((err as { code?: string }).code === '23505') return undefined;
      throw err;
    } finally {
      client?.release(broken);
    }
  }

  /** The authoritative append, inside a transaction the caller opened (and commits or rolls back). */
  private async appendInTransaction(client: PoolClient | Client, stream: string, events: NewEvent[], options: AppendOptions): Promise<{ result: AppendResult; written: boolean }> {
    const s = this.schema;
    const expected = options.expectedRevision;
    // Locks the stream (row or, for a new stream, its unique-index slot) until COMMIT/ROLLBACK.
    const lock = await client.query<{ revision: string }>(
      `INSERT INTO ${s}.streams (stream_id, revision) VALUES ($1, -1)
       ON CONFLICT (stream_id) DO UPDATE SET revision = ${s}.streams.revision RETURNING revision`,
      [stream],
    );
    const current = BigInt(lock.rows[0].revision);
    const ids = events.map((e) => e.eventId.toLowerCase());

    if (!satisfiesExpected(current, expected)) {
      // Maybe a retry of a batch that was stored before the stream moved on.
      const retried = idempotentResult(stream, await this.storedPlaces(client, ids), expected);
      if (retried) return { result: retried, written: false };
      throw new WrongExpectedVersionError(stream, expected, current < 0n ? 'no_stream' : current);
    }
    if (events.length === 0) return { result: { nextExpectedRevision: current, position: 0n }, written: false };

    // One statement: re-check idempotency (fresh snapshot, now that the stream is locked), then take the
    // global counter's row lock and positions, insert, move the stream and notify, only if none is stored.
    const batch = JSON.stringify(events.map((e, i) => ({ id: ids[i], type: e.type, data: e.data, metadata: e.metadata })));
    const n = events.length;
    const res = await client.query<{ kind: 'existing' | 'inserted'; event_id: string | null; stream_id: string | null; stream_revision: string | null; position: string }>(
      `WITH existing AS (
         SELECT event_id, stream_id, stream_revision, position FROM ${s}.events WHERE event_id = ANY($1::uuid[])
       ), g AS (
         UPDATE ${s}.global_position SET position = position + $2 WHERE id = 1 AND NOT EXISTS (SELECT 1 FROM existing)
         RETURNING position
       ), ins AS (
         INSERT INTO ${s}.events (position, event_id, stream_id, stream_revision, type, data, metadata)
         SELECT g.position - $2 + e.ord, (e.doc->>'id')::uuid, $3, $4::bigint + e.ord, e.doc->>'type', e.doc->'data', e.doc->'metadata'
         FROM g, jsonb_array_elements($5::jsonb) WITH ORDINALITY AS e(doc, ord)
         RETURNING 1
       ), st AS (
         UPDATE ${s}.streams SET revision = $4::bigint + $2 WHERE stream_id = $3 AND EXISTS (SELECT 1 FROM g)
       )
       SELECT 'existing' AS kind, event_id::text AS event_id, stream_id, stream_revision::text AS stream_revision, position::text AS position FROM existing
       UNION ALL
       SELECT 'inserted', NULL, NULL, NULL, g.position::text FROM g, (SELECT pg_notify($6, '') FROM g) AS notified`,
      [ids, n, stream, current.toString(), batch, this.channel],
    );
    const inserted = res.rows.find((r) => r.kind === 'inserted');
    if (inserted) return { result: { nextExpectedRevision: current + BigInt(n), position: BigInt(inserted.position) }, written: true };

    const byId = new Map(res.rows.map((r) => [r.event_id!, { stream: r.stream_id!, streamRevision: BigInt(r.stream_revision!), position: BigInt(r.position) }]));
    const retried = idempotentResult(stream, ids.map((id) => byId.get(id)), expected);
    if (retried) return { result: retried, written: false };
    throw new DuplicateEventIdError(stream, events.filter((_, i) => byId.has(ids[i])).map((e) => e.eventId));
  }

  private async storedPlaces(client: PoolClient | Client, ids: string[]): Promise<(StoredPlace | undefined)[]> {
    if (ids.length === 0) return [];
    const { rows } = await client.query<{ event_id: string; stream_id: string; stream_revision: string; position: string }>(
      `SELECT event_id::text AS event_id, stream_id, stream_revision, position FROM ${this.schema}.events WHERE event_id = ANY($1::uuid[])`,
      [ids],
    );
    const byId = new Map(rows.map((r) => [r.event_id, { stream: r.stream_id, streamRevision: BigInt(r.stream_revision), position: BigInt(r.position) }]));
    return ids.map((id) => byId.get(id));
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
    const backwards = options.direction === 'backwards';
    const params: unknown[] = [stream];
    let where = 'stream_id = $1';
    if (options.fromRevision !== undefined) {
      params.push(options.fromRevision.toString());
      where += backwards ? ` AND stream_revision <= $2` : ` AND stream_revision >= $2`;
    }
    const limit = options.maxCount !== undefined ? ` LIMIT ${Math.max(0, Math.floor(options.maxCount))}` : '';
    const { rows } = await this.pool.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM ${this.schema}.events WHERE ${where} ORDER BY stream_revision ${backwards ? 'DESC' : 'ASC'}${limit}`,
      params,
    );
    return rows.map(toEvent);
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<StoredEvent> {
    const backwards = options.direction === 'backwards';
    let remaining = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    // Forwards: exclusive lower bound. Backwards: inclusive upper bound, then exclusive as we page.
    let bound: bigint | undefined = backwards
      ? options.fromPosition
      : (options.afterPosition ?? (options.fromPosition !== undefined ? options.fromPosition - 1n : 0n));
    let inclusive = backwards;
    while (remaining > 0) {
      const page = await this.page(bound, Math.min(remaining, 1000), options.filter, backwards, inclusive);
      for (const e of page) yield e;
      remaining -= page.length;
      if (page.length < Math.min(remaining + page.length, 1000)) return;
      bound = page[page.length - 1].position;
      inclusive = false;
    }
  }

  private async page(bound: bigint | undefined, limit: number, filter: EventFilter | undefined, backwards = false, inclusive = false): Promise<StoredEvent[]> {
    const params: unknown[] = [];
    const where: string[] = [];
    if (bound !== undefined) {
      params.push(bound.toString());
      where.push(`position ${backwards ? (inclusive ? '<=' : '<') : '>'} $${params.length}`);
    }
    where.push(...filterClauses(filter, params));
    params.push(limit);
    const { rows } = await this.pool.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM ${this.schema}.events ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
       ORDER BY position ${backwards ? 'DESC' : 'ASC'} LIMIT $${params.length}`,
      params,
    );
    return rows.map(toEvent);
  }

  /**
   * A forward page plus the counter as this statement's snapshot saw it. Appends bump the counter under its
   * row lock and commit with their events, so every event at or below that head is visible here.
   */
  private async pageWithHead(after: bigint, limit: number, filter: EventFilter | undefined): Promise<{ events: StoredEvent[]; head: bigint }> {
    const params: unknown[] = [after.toString()];
    const where = ['position > $1'];
    where.push(...filterClauses(filter, params));
    params.push(limit);
    const { rows } = await this.pool.query<EventRow & { head: string }>(
      `WITH h AS (SELECT position AS head FROM ${this.schema}.global_position WHERE id = 1),
            e AS (SELECT ${EVENT_COLUMNS} FROM ${this.schema}.events WHERE ${where.join(' AND ')} ORDER BY position ASC LIMIT $${params.length})
       SELECT h.head, e.* FROM h LEFT JOIN e ON true ORDER BY e.position ASC`,
      params,
    );
    const head = BigInt(rows[0]?.head ?? '0');
    return { events: rows.filter((r) => r.position !== null).map(toEvent), head };
  }

  subscribeToAll(options: SubscribeToAllOptions): Subscription {
    if (this.closed) throw new EventStoreError('event store is closed');
    this.ensureListening();
    const sub = startPollingSubscription(
      {
        readPage: (after, limit, filter) => this.pageWithHead(after, limit, filter),
        onAppended: (listener) => {
          this.listeners.add(listener);
          return () => this.listeners.delete(listener);
        },
      },
      options,
      this.options.polling,
    );
    this.subscriptions.add(sub);
    void sub.done.catch(() => undefined).finally(() => this.subscriptions.delete(sub));
    return sub;
  }

  /** One LISTEN connection per store wakes every subscription; polling covers the gaps while it reconnects. */
  private ensureListening(): void {
    if (this.listenClient || this.listenRetry || this.closed) return;
    const client = new Client({ connectionString: this.options.connectionString });
    this.listenClient = client;
    const reconnect = () => {
      if (this.listenClient !== client) return;
      this.listenClient = undefined;
      client.end().catch(() => undefined);
      if (this.closed) return;
      this.listenRetry = setTimeout(() => {
        this.listenRetry = undefined;
        if (this.subscriptions.size > 0) this.ensureListening();
      }, 1000);
      this.listenRetry.unref();
    };
    client.on('notification', () => {
      for (const l of this.listeners) l();
    });
    client.on('error', reconnect);
    client.on('end', reconnect);
    client
      .connect()
      .then(() => client.query(`LISTEN ${this.channel}`))
      // Anything appended while we were not listening is picked up by this wake-up.
      .then(() => this.listeners.forEach((l) => l()))
      .catch(reconnect);
  }

  async serverVersion(): Promise<string> {
    const { rows } = await this.pool.query<{ server_version: string }>('SHOW server_version');
    return rows[0].server_version;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    if (this.listenRetry) clearTimeout(this.listenRetry);
    const listen = this.listenClient;
    this.listenClient = undefined;
    await listen?.end().catch(() => undefined);
    await this.pool.end();
  }
}

function mapPgError(err: unknown, stream: string, events: NewEvent[]): unknown {
  const pg = err as { code?: string; constraint?: string };
  // A concurrent append of the same event id to another stream got there first.
  if (pg.code === '23505' && pg.constraint?.endsWith('event_id_key')) return new DuplicateEventIdError(stream, events.map((e) => e.eventId));
  return err;
}
