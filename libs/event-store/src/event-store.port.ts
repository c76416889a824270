/**
 * The event store port: the system of record for device, user and token lifecycle facts.
 *
 * Revisions are 0-based per stream (as in EventStoreDB); `position` is the event's place in one
 * global, totally ordered log shared by all streams. Positions only grow, but need not be dense.
 */

export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | bigint;
export type CurrentRevision = 'no_stream' | bigint;

export interface EventMetadata {
  appId: string;
  correlationId: string;
  causationId: string;
  /** ISO-8601 instant at which the fact happened (not when it was stored). */
  occurredAt: string;
  schemaVersion: number;
  [key: string]: unknown;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface NewEvent<TData = unknown> {
  /** UUID chosen by the writer; re-sending the same id makes the append idempotent. */
  eventId: string;
  type: string;
  data: TData;
  metadata: EventMetadata;
}

export interface StoredEvent<TData = unknown> extends NewEvent<TData> {
  stream: string;
  streamRevision: bigint;
  position: bigint;
}

export interface AppendOptions {
  expectedRevision: ExpectedRevision;
}

export interface AppendResult {
  /** Revision of the stream's last event after this append: pass it as the next `expectedRevision`. */
  nextExpectedRevision: bigint;
  /** Global position of the append: its last event's (PostgreSQL, in-memory) or its commit's (EventStoreDB). */
  position: bigint;
}

/** One stream's part of a multi-stream append. No events: the stream must only be where `expectedRevision` says. */
export interface StreamAppend {
  stream: string;
  events: NewEvent[];
  expectedRevision: ExpectedRevision;
}

/**
 * A data key (libs/privacy) the append's sealed values were sealed with. With `key`, a new key: created in
 * the append's transaction, and the append fails with DataKeyConflictError if the subject has one already.
 * Without, a key known from before: the append fails the same way unless the subject still has exactly
 * this live key (so a key destroyed by an erasure in another process is never written with again).
 */
export interface DataKeyClaim {
  appId: string;
  kind: 'user' | 'device';
  subject: string;
  kid: string;
  key?: Buffer;
}

export interface MultiAppendOptions {
  dataKeys?: DataKeyClaim[];
}

export interface MultiAppendResult {
  /** Per entry, in the order given. A check-only entry reports the stream's revision and position 0. */
  streams: AppendResult[];
  /** The highest position written (0 when nothing was). */
  position: bigint;
}

export type ReadDirection = 'forwards' | 'backwards';

export interface ReadStreamOptions {
  /** Inclusive; defaults to the first event (forwards) or the last one (backwards). */
  fromRevision?: bigint;
  direction?: ReadDirection;
  maxCount?: number;
}

export interface EventFilter {
  /** Keep events whose type is one of these. */
  eventTypes?: string[];
  /** Keep events whose stream id starts with one of these (e.g. `device-`). */
  streamPrefixes?: string[];
}

export interface ReadAllOptions {
  /** Inclusive start (forwards) or inclusive end (backwards). */
  fromPosition?: bigint;
  /** Exclusive start, for resuming after the last event seen (forwards only). */
  afterPosition?: bigint;
  direction?: ReadDirection;
  /** Total number of (matching) events to yield; unlimited by default. */
  maxCount?: number;
  filter?: EventFilter;
}

export interface SubscribeToAllOptions {
  /** Position of the last event already handled: delivery starts strictly after it. */
  fromCheckpoint?: bigint;
  filter?: EventFilter;
  /** Called for each event in global order; the next one waits for the returned promise. */
  onEvent?: (event: StoredEvent) => Promise<void> | void;
  /** Alternative to onEvent: receives events in order, a page at a time (never empty). */
  onBatch?: (events: StoredEvent[]) => Promise<void> | void;
  /** The subscription has stopped because of this error (a handler's or the store's). */
  onError?: (error: Error) => void;
  /** Called once when the catch-up phase has reached the end of the log. */
  onCaughtUp?: () => void;
}

export interface Subscription {
  /** Stops delivery; resolves once no handler is running any more. */
  stop(): Promise<void>;
  /** Settles when the subscription ends: resolves on stop(), rejects with the error that ended it. */
  readonly done: Promise<void>;
}

/** Durable last-handled position of a named subscriber (relay, projections). */
export interface CheckpointStore {
  load(name: string): Promise<bigint | undefined>;
  save(name: string, position: bigint): Promise<void>;
}

export interface EventStore {
  readonly kind: 'postgres' | 'eventstoredb' | 'in-memory';
  /**
   * Appends atomically. Idempotent by event id: if the whole batch is already stored at the place the
   * expected revision names (anywhere in the stream for 'any'/'stream_exists'), nothing is written and the
   * original result is returned. A batch that only partly overlaps stored events is rejected
   * (DuplicateEventIdError, or WrongExpectedVersionError on EventStoreDB) and nothing is written.
   */
  appendToStream(stream: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult>;
  /**
   * Appends to several streams at once, each under its own expected revision: all entries are stored, or
   * none (a conflict on any entry fails the whole call with WrongExpectedVersionError). Idempotency by
   * event id applies per entry as in appendToStream. Where `atomicMultiStream` is false (EventStoreDB
   * 23/24 has no multi-stream append), entries are appended one after another in the given order, each
   * atomic on its own: a failure can leave earlier entries stored, so callers must make every entry
   * idempotent (deterministic event ids) and retry the whole call.
   */
  appendToStreams(appends: StreamAppend[], options?: MultiAppendOptions): Promise<MultiAppendResult>;
  readonly atomicMultiStream: boolean;
  /**
   * Whether `options.dataKeys` are stored and checked in the append's own transaction (PostgreSQL, whose
   * database also holds the privacy keys). Elsewhere they must not be passed.
   */
  readonly storesDataKeys: boolean;
  /** A missing stream reads as empty. */
  readStream(stream: string, options?: ReadStreamOptions): Promise<StoredEvent[]>;
  /** Pages through the global log lazily. */
  readAll(options?: ReadAllOptions): AsyncIterable<StoredEvent>;
  /** Catch-up from the checkpoint, then live; resumable by passing the last handled position. */
  subscribeToAll(options: SubscribeToAllOptions): Subscription;
  readonly checkpoints: CheckpointStore;
  close(): Promise<void>;
}

export function matchesFilter(event: { type: string; stream: string }, filter: EventFilter | undefined): boolean {
  if (!filter) return true;
  if (filter.eventTypes && !filter.eventTypes.includes(event.type)) return false;
  if (filter.streamPrefixes && !filter.streamPrefixes.some((p) => event.stream.startsWith(p))) return false;
  return true;
}
