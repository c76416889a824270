/**
 * PostgreSQL adapter, on its own small schema rather than a library: the Node event-store libraries for
 * PostgreSQL either number events with a plain sequence (a subscriber can skip a slower concurrent
 * transaction), or fix that with a composite (xid, id) checkpoint that does not fit this port's single
 * bigint position, and none maps EventStoreDB's expected-revision and idempotency semantics. The whole
 * adapter is a few statements we can reason about.
 *
 * Global ordering: appends are serialized on one counter row (`global_position`). Every append runs in
 * the server function `append_batch`, which takes the counter's row lock first (so writers never deadlock
 * on stream rows), checks each request's expected revisions and event ids, inserts the events with the
 * positions it hands out, and commits in the same autocommit statement, so the lock never waits on a
 * client round trip. Positions are therefore handed out in commit order and no transaction can become
 * visible with a lower position than one already visible: reading `position > checkpoint` never skips a
 * slower concurrent writer, and a rolled-back append rolls back its counter bump too (no gaps).
 *
 * Group commit: commits are one at a time, so appends that arrive while one is in flight wait in a queue
 * and go together in the next call: one statement, one transaction, one WAL flush and one NOTIFY for all of
 * them. Each request is judged on its own inside it (a conflicting one writes nothing and fails alone;
 * the others are stored), without subtransactions: holding the counter lock, nothing else moves a stream
 * between the checks and the writes. A multi-stream request (appendToStreams) is all or nothing.
 *
 * Idempotency: a batch whose ids are all stored, contiguously, where `expected` puts it, is a success that
 * writes nothing (EventStoreDB's rule). Partial overlaps and ids stored in another stream are rejected
 * (DuplicateEventIdError); the unique index on event_id backs this up under races.
 */
import { Client, Pool } from 'pg';
import { createPgPool } from './pg-pool';
import { idempotentResult, validateMultiAppend } from './append-rules';
import { DataKeyConflictError, DuplicateEventIdError, EventStoreError, WrongExpectedVersionError } from './event-store.errors';
import type {
  AppendOptions,
  AppendResult,
  CheckpointStore,
  DataKeyClaim,
  EventFilter,
  EventStore,
  MultiAppendOptions,
  MultiAppendResult,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  StoredEvent,
  StreamAppend,
  SubscribeToAllOptions,
  Subscription,
} from './event-store.port';
import { startPollingSubscription, type PollingOptions } from './polling-subscription';
import { TurnBatch } from './turn-batch';

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
    appendBatchSql(s),
  ];
}

/**
 * `requests`: a JSON array of requests, each `{ e: [{ stream, expected, events: [{ id, type, data, metadata }] }],
 * k: [{ app, kind, subject, kid, key? }] }` (entries and data-key claims). Returns one outcome per request, in
 * order: `written` with each entry's new revision and position, or `rejected` (nothing of it written) with the
 * stored places of any of its ids, each entry's current revision, the first entry whose expectation failed
 * and the first data-key claim that no longer holds. New keys are inserted in the same transaction as the
 * events sealed with them; `privacy.keys` is created by libs/privacy (used only when claims are passed).
 */
function appendBatchSql(s: string): string {
  return `CREATE OR REPLACE FUNCTION ${s}.append_batch(requests jsonb) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  head bigint;
  start_head bigint;
  req jsonb;
  entry jsonb;
  results jsonb := '[]'::jsonb;
  entries_out jsonb;
  currents jsonb;
  failed jsonb;
  existing jsonb;
  cur bigint;
  expect text;
  n bigint;
  last_pos bigint;
  app_written boolean := false;
  claim jsonb;
  key_failed jsonb;
  have_kid text;
  have_key boolean;
BEGIN
  SELECT g.position INTO head FROM ${s}.global_position g WHERE g.id = 1 FOR UPDATE;
  start_head := head;
  FOR req IN SELECT value FROM jsonb_array_elements(requests) LOOP
    currents := '[]'::jsonb;
    failed := NULL;
    FOR entry IN SELECT value FROM jsonb_array_elements(req->'e') LOOP
      SELECT st.revision INTO cur FROM ${s}.streams st WHERE st.stream_id = entry->>'stream';
      IF NOT FOUND THEN cur := -1; END IF;
      currents := currents || to_jsonb(cur::text);
      expect := entry->>'expected';
      IF failed IS NULL AND NOT (expect = 'any' OR (expect = 'no_stream' AND cur < 0) OR (expect = 'stream_exists' AND cur >= 0)
          OR (expect NOT IN ('any', 'no_stream', 'stream_exists') AND cur = expect::bigint)) THEN
        failed := jsonb_build_object('stream', entry->>'stream', 'current', cur::text);
      END IF;
    END LOOP;
    SELECT jsonb_agg(jsonb_build_object('id', e.event_id::text, 'stream', e.stream_id, 'revision', e.stream_revision::text, 'position', e.position::text))
      INTO existing FROM ${s}.events e
      WHERE e.event_id IN (SELECT (x->>'id')::uuid FROM jsonb_array_elements(req->'e') a, jsonb_array_elements(a->'events') x);
    key_failed := NULL;
    IF existing IS NULL AND failed IS NULL AND req ? 'k' THEN
      FOR claim IN SELECT value FROM jsonb_array_elements(COALESCE(req->'k', '[]'::jsonb)) LOOP
        SELECT pk.kid::text, pk.key IS NOT NULL INTO have_kid, have_key FROM privacy.keys pk
          WHERE pk.app_id = claim->>'app' AND pk.kind = claim->>'kind' AND pk.subject = claim->>'subject';
        IF (claim ? 'key' AND FOUND) OR (NOT claim ? 'key' AND (NOT FOUND OR have_kid <> claim->>'kid' OR NOT have_key)) THEN
          key_failed := claim - 'key';
          EXIT;
        END IF;
      END LOOP;
      IF key_failed IS NULL THEN
        INSERT INTO privacy.keys (app_id, kind, subject, kid, key)
          SELECT c->>'app', c->>'kind', c->>'subject', (c->>'kid')::uuid, decode(c->>'key', 'base64')
          FROM jsonb_array_elements(COALESCE(req->'k', '[]'::jsonb)) AS x(c) WHERE c ? 'key';
      END IF;
    END IF;
    IF existing IS NOT NULL OR failed IS NOT NULL OR key_failed IS NOT NULL THEN
      results := results || jsonb_build_array(jsonb_build_object('kind', 'rejected', 'existing', COALESCE(existing, '[]'::jsonb), 'currents', currents, 'failed', failed, 'keyFailed', key_failed));
      CONTINUE;
    END IF;
    entries_out := '[]'::jsonb;
    last_pos := 0;
    FOR i IN 0 .. jsonb_array_length(req->'e') - 1 LOOP
      entry := req->'e'->i;
      cur := (currents->>i)::bigint;
      n := jsonb_array_length(entry->'events');
      IF n > 0 THEN
        INSERT INTO ${s}.events (position, event_id, stream_id, stream_revision, type, data, metadata)
          SELECT head + ev.ord, (ev.doc->>'id')::uuid, entry->>'stream', cur + ev.ord, ev.doc->>'type', ev.doc->'data', ev.doc->'metadata'
          FROM jsonb_array_elements(entry->'events') WITH ORDINALITY AS ev(doc, ord);
        INSERT INTO ${s}.streams (stream_id, revision) VALUES (entry->>'stream', cur + n)
          ON CONFLICT (stream_id) DO UPDATE SET revision = EXCLUDED.revision;
        head := head + n;
        cur := cur + n;
        app_written := app_written OR starts_with(entry->>'stream', 'app-');
        last_pos := head;
        entries_out := entries_out || jsonb_build_array(jsonb_build_array(cur::text, head::text));
      ELSE
        entries_out := entries_out || jsonb_build_array(jsonb_build_array(cur::text, '0'));
      END IF;
    END LOOP;
    results := results || jsonb_build_array(jsonb_build_object('kind', 'written', 'streams', entries_out, 'position', last_pos::text));
  END LOOP;
  IF head > start_head THEN
    UPDATE ${s}.global_position SET position = head WHERE id = 1;
    PERFORM pg_notify('${s}_appended', '');
    IF app_written THEN PERFORM pg_notify('${s}_app_appended', ''); END IF;
  END IF;
  RETURN results;
END
$fn$`;
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
  /** Wake-ups by channel: every append, or only appends to app streams (for the app registries). */
  private readonly listeners = { all: new Set<() => void>(), apps: new Set<() => void>() };
  private readonly subscriptions = new Set<Subscription>();
  private listenClient: Client | undefined;
  private listenRetry: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly channel: string;
  private readonly appChannel: string;
  private readonly queue: PendingAppend[] = [];
  private flushing = false;
  /** Whole-stream reads: concurrent commands load their device, token and user streams with one query. */
  private readonly wholeStreams = new TurnBatch<string, StoredEvent[]>(
    (stream) => stream,
    async (streams) => {
      const { rows } = await this.pool.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM ${this.schema}.events WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, stream_revision`, [streams]);
      const byStream = new Map<string, StoredEvent[]>();
      for (const row of rows) {
        const event = toEvent(row);
        const list = byStream.get(event.stream);
        if (list) list.push(event);
        else byStream.set(event.stream, [event]);
      }
      return byStream;
    },
  );

  private constructor(
    private readonly pool: Pool,
    private readonly schema: string,
    private readonly options: PostgresEventStoreOptions,
  ) {
    this.checkpoints = new PostgresCheckpointStore(pool, schema);
    this.channel = `${schema}_appended`;
    this.appChannel = `${schema}_app_appended`;
  }

  static async connect(options: PostgresEventStoreOptions): Promise<PostgresEventStore> {
    const schema = options.schema ?? 'event_store';
    if (!/^[a-z_][a-z0-9_]{0,40}$/.test(schema)) throw new EventStoreError(`invalid schema name: ${schema}`);
    const pool = createPgPool({ connectionString: options.connectionString, max: options.poolSize ?? 20 });
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

  readonly atomicMultiStream = true;

  async appendToStream(stream: string, events: NewEvent[], options: PostgresAppendOptions): Promise<AppendResult> {
    const appends = [{ stream, events, expectedRevision: options.expectedRevision }];
    if (options.__testHold) {
      validateMultiAppend(appends);
      return (await this.appendHeld(appends, options.__testHold)).streams[0];
    }
    return (await this.appendToStreams(appends)).streams[0];
  }

  readonly storesDataKeys = true;

  appendToStreams(appends: StreamAppend[], options: MultiAppendOptions = {}): Promise<MultiAppendResult> {
    validateMultiAppend(appends);
    return new Promise((resolve, reject) => {
      this.queue.push({ appends, dataKeys: options.dataKeys, resolve, reject });
      if (!this.flushing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length) {
        let size = 0;
        let n = 0;
        while (n < this.queue.length && n < MAX_GROUP_REQUESTS && size < MAX_GROUP_EVENTS) size += this.queue[n++].appends.reduce((k, a) => k + a.events.length, 0);
        const group = this.queue.splice(0, n);
        try {
          const { rows } = await this.pool.query<{ r: BatchOutcome[] }>({ name: `es_append_batch_${this.schema}`, text: `SELECT ${this.schema}.append_batch($1::jsonb) AS r`, values: [batchPayload(group)] });
          group.forEach((p, i) => settle(p, rows[0].r[i]));
        } catch (err) {
          for (const p of group) p.reject(mapPgError(err, p.appends));
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Test-only: the same function in a transaction kept open `hold.ms` before COMMIT or ROLLBACK. */
  private async appendHeld(appends: StreamAppend[], hold: { ms: number; rollback?: boolean }): Promise<MultiAppendResult> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ r: BatchOutcome[] }>(`SELECT ${this.schema}.append_batch($1::jsonb) AS r`, [batchPayload([{ appends }])]);
      await sleep(hold.ms);
      await client.query(hold.rollback ? 'ROLLBACK' : 'COMMIT');
      if (hold.rollback && rows[0].r[0].kind === 'written') throw new EventStoreError('test hold: rolled back on purpose');
      return new Promise((resolve, reject) => settle({ appends, resolve, reject }, rows[0].r[0]));
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      throw mapPgError(err, appends);
    } finally {
      client.release(broken);
    }
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
    const backwards = options.direction === 'backwards';
    if (!backwards && options.fromRevision === undefined && options.maxCount === undefined) return [...((await this.wholeStreams.get(stream)) ?? [])];
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
          const prefixes = options.filter?.streamPrefixes;
          const set = prefixes?.length && prefixes.every((p) => p.startsWith('app-')) ? this.listeners.apps : this.listeners.all;
          set.add(listener);
          return () => set.delete(listener);
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
    client.on('notification', (n) => {
      for (const l of n.channel === this.appChannel ? this.listeners.apps : this.listeners.all) l();
    });
    client.on('error', reconnect);
    client.on('end', reconnect);
    client
      .connect()
      .then(() => client.query(`LISTEN ${this.channel}; LISTEN ${this.appChannel}`))
      // Anything appended while we were not listening is picked up by this wake-up.
      .then(() => [...this.listeners.all, ...this.listeners.apps].forEach((l) => l()))
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

function mapPgError(err: unknown, appends: StreamAppend[]): unknown {
  const pg = err as { code?: string; constraint?: string };
  // Cannot happen while every writer holds the counter lock; kept so an engine-level surprise reads right.
  if (pg.code === '23505' && pg.constraint?.endsWith('event_id_key')) return new DuplicateEventIdError(appends[0].stream, appends.flatMap((a) => a.events.map((e) => e.eventId)));
  return err;
}

/** Requests one group commit takes at most (and events, roughly): bounds one statement's size and lock time. */
const MAX_GROUP_REQUESTS = 500;
const MAX_GROUP_EVENTS = 5000;

interface PendingAppend {
  appends: StreamAppend[];
  dataKeys?: DataKeyClaim[];
  resolve: (r: MultiAppendResult) => void;
  reject: (e: unknown) => void;
}

type BatchOutcome =
  | { kind: 'written'; streams: [string, string][]; position: string }
  | {
      kind: 'rejected';
      existing: { id: string; stream: string; revision: string; position: string }[];
      currents: string[];
      failed: { stream: string; current: string } | null;
      keyFailed: { app: string; kind: string; subject: string } | null;
    };

function batchPayload(group: Pick<PendingAppend, 'appends' | 'dataKeys'>[]): string {
  return JSON.stringify(
    group.map((p) => ({
      e: p.appends.map((a) => ({
        stream: a.stream,
        expected: typeof a.expectedRevision === 'bigint' ? a.expectedRevision.toString() : a.expectedRevision,
        events: a.events.map((e) => ({ id: e.eventId.toLowerCase(), type: e.type, data: e.data, metadata: e.metadata })),
      })),
      ...(p.dataKeys?.length
        ? { k: p.dataKeys.map((c) => ({ app: c.appId, kind: c.kind, subject: c.subject, kid: c.kid, ...(c.key ? { key: c.key.toString('base64') } : {}) })) }
        : {}),
    })),
  );
}

/**
 * The answer for one request of a group. A rejected request is an idempotent success when every entry with
 * events is a retry (EventStoreDB's rule, per entry; check-only entries are then not judged again), else a
 * revision conflict, else a duplicate event id.
 */
function settle(p: PendingAppend, outcome: BatchOutcome): void {
  if (outcome.kind === 'written') {
    p.resolve({ streams: outcome.streams.map(([revision, position]) => ({ nextExpectedRevision: BigInt(revision), position: BigInt(position) })), position: BigInt(outcome.position) });
    return;
  }
  const places = new Map(outcome.existing.map((e) => [e.id, { stream: e.stream, streamRevision: BigInt(e.revision), position: BigInt(e.position) }]));
  if (places.size > 0) {
    const retried = p.appends.map((a, i) =>
      a.events.length ? idempotentResult(a.stream, a.events.map((e) => places.get(e.eventId.toLowerCase())), a.expectedRevision) : { nextExpectedRevision: BigInt(outcome.currents[i]), position: 0n },
    );
    if (p.appends.some((a) => a.events.length) && retried.every((r) => r !== undefined)) {
      const streams = retried as AppendResult[];
      p.resolve({ streams, position: streams.reduce((m, r) => (r.position > m ? r.position : m), 0n) });
      return;
    }
  }
  if (outcome.keyFailed) {
    p.reject(new DataKeyConflictError({ appId: outcome.keyFailed.app, kind: outcome.keyFailed.kind, subject: outcome.keyFailed.subject }));
    return;
  }
  if (outcome.failed) {
    const i = p.appends.findIndex((a) => a.stream === outcome.failed!.stream);
    const current = BigInt(outcome.failed.current);
    p.reject(new WrongExpectedVersionError(outcome.failed.stream, p.appends[i].expectedRevision, current < 0n ? 'no_stream' : current));
    return;
  }
  const stored = p.appends.flatMap((a) => a.events.filter((e) => places.has(e.eventId.toLowerCase())).map((e) => ({ stream: a.stream, id: e.eventId })));
  p.reject(new DuplicateEventIdError(stored[0]?.stream ?? p.appends[0].stream, stored.map((x) => x.id)));
}
