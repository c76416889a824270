/**
 * EventStoreDB adapter (@eventstore/db-client 6.2.1). The server already gives what the port asks for:
 * expected revisions, idempotency by event id, one ordered $all log. The global position is the commit
 * position (for events written through gRPC it equals the prepare position and is unique per event);
 * system events (`$...` types or streams) are never returned.
 *
 * Differences from the PostgreSQL adapter, by the server's design: idempotency is per stream (the same
 * event id may be written to two streams), it is guaranteed for exact expected revisions but best effort
 * for 'any' (an id cache), and a partial overlap is reported as WrongExpectedVersionError.
 *
 * Checkpoints live in EventStoreDB too, one system stream per subscriber (`$pushledger-checkpoint-<name>`,
 * maxCount 1), so this mode needs no second engine; being `$` streams, they never show up in reads or
 * subscriptions. In a secured cluster the writer needs rights on `$` streams.
 */
import {
  ANY,
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  NO_STREAM,
  START,
  STREAM_EXISTS,
  StreamNotFoundError as EsdbStreamNotFoundError,
  WrongExpectedVersionError as EsdbWrongExpectedVersionError,
  eventTypeFilter,
  excludeSystemEvents,
  jsonEvent,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type AppendExpectedRevision,
  type Filter,
  type JSONType,
  type ReadPosition,
  type ResolvedEvent,
} from '@eventstore/db-client';
import { satisfiesExpected, validateAppend, validateMultiAppend } from './append-rules';
import { EventStoreError, WrongExpectedVersionError } from './event-store.errors';
import {
  matchesFilter,
  type AppendOptions,
  type AppendResult,
  type CheckpointStore,
  type EventFilter,
  type EventMetadata,
  type EventStore,
  type ExpectedRevision,
  type MultiAppendResult,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type StoredEvent,
  type StreamAppend,
  type SubscribeToAllOptions,
  type Subscription,
} from './event-store.port';

const toExpected = (e: ExpectedRevision): AppendExpectedRevision =>
  e === 'any' ? ANY : e === 'no_stream' ? NO_STREAM : e === 'stream_exists' ? STREAM_EXISTS : e;

const isSystem = (type: string, stream: string) => type.startsWith('$') || stream.startsWith('$');

function toStored(resolved: ResolvedEvent | AllStreamResolvedEvent): StoredEvent | undefined {
  const e = resolved.event;
  if (!e || isSystem(e.type, e.streamId)) return undefined;
  const position = e.position?.commit ?? resolved.commitPosition;
  if (position === undefined) throw new EventStoreError('EventStoreDB returned an event without a position (server older than 22.6?)');
  return {
    eventId: e.id.toLowerCase(),
    type: e.type,
    data: e.isJson ? e.data : Buffer.from(e.data as Uint8Array).toString('base64'),
    metadata: (e.metadata ?? {}) as EventMetadata,
    stream: e.streamId,
    streamRevision: e.revision,
    position,
  };
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The server applies one filter kind; whatever it cannot express is re-checked on our side. */
function serverFilter(filter: EventFilter | undefined): Filter {
  if (filter?.streamPrefixes) return streamNameFilter({ prefixes: filter.streamPrefixes });
  if (filter?.eventTypes) return eventTypeFilter({ regex: `^(?:${filter.eventTypes.map(escapeRegex).join('|')})$` });
  return excludeSystemEvents();
}

export class EventStoreDbCheckpointStore implements CheckpointStore {
  private readonly prepared = new Set<string>();
  constructor(private readonly client: EventStoreDBClient) {}

  private stream(name: string) {
    return `$pushledger-checkpoint-${name}`;
  }

  async load(name: string): Promise<bigint | undefined> {
    try {
      for await (const r of this.client.readStream<{ type: 'Checkpoint'; data: { position: string } }>(this.stream(name), { direction: BACKWARDS, fromRevision: END, maxCount: 1 })) {
        return BigInt(r.event!.data.position);
      }
    } catch (err) {
      if (err instanceof EsdbStreamNotFoundError) return undefined;
      throw err;
    }
    return undefined;
  }

  async save(name: string, position: bigint): Promise<void> {
    const stream = this.stream(name);
    if (!this.prepared.has(name)) {
      await this.client.setStreamMetadata(stream, { maxCount: 1 });
      this.prepared.add(name);
    }
    await this.client.appendToStream(stream, jsonEvent({ type: 'Checkpoint', data: { position: position.toString() } }));
  }
}

export class EventStoreDbEventStore implements EventStore {
  readonly kind = 'eventstoredb' as const;
  readonly checkpoints: EventStoreDbCheckpointStore;
  private readonly client: EventStoreDBClient;
  private readonly subscriptions = new Set<Subscription>();

  constructor(connectionString: string) {
    this.client = EventStoreDBClient.connectionString(connectionString);
    this.checkpoints = new EventStoreDbCheckpointStore(this.client);
  }

  /** EventStoreDB 23/24 has no multi-stream append: entries go one after another (see the port). */
  readonly atomicMultiStream = false;
  readonly storesDataKeys = false;

  async appendToStreams(appends: StreamAppend[]): Promise<MultiAppendResult> {
    validateMultiAppend(appends);
    const streams: AppendResult[] = [];
    let position = 0n;
    for (const a of appends) {
      const result = a.events.length ? await this.appendToStream(a.stream, a.events, { expectedRevision: a.expectedRevision }) : await this.check(a.stream, a.expectedRevision);
      streams.push(result);
      if (result.position > position) position = result.position;
    }
    return { streams, position };
  }

  private async check(stream: string, expected: ExpectedRevision): Promise<AppendResult> {
    const [last] = await this.readStream(stream, { direction: 'backwards', maxCount: 1 });
    const current = last ? last.streamRevision : -1n;
    if (!satisfiesExpected(current, expected)) throw new WrongExpectedVersionError(stream, expected, last ? current : 'no_stream');
    return { nextExpectedRevision: current, position: 0n };
  }

  async appendToStream(stream: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> {
    validateAppend(stream, events, options.expectedRevision);
    try {
      const result = await this.client.appendToStream(
        stream,
        events.map((e) => jsonEvent({ id: e.eventId.toLowerCase(), type: e.type, data: e.data as JSONType, metadata: e.metadata })),
        { expectedRevision: toExpected(options.expectedRevision) },
      );
      return { nextExpectedRevision: result.nextExpectedRevision, position: result.position?.commit ?? 0n };
    } catch (err) {
      if (err instanceof EsdbWrongExpectedVersionError) {
        throw new WrongExpectedVersionError(stream, options.expectedRevision, err.actualVersion ?? 'no_stream');
      }
      throw err;
    }
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
    if (options.maxCount === 0) return [];
    const backwards = options.direction === 'backwards';
    const out: StoredEvent[] = [];
    try {
      const read = this.client.readStream(stream, {
        direction: backwards ? BACKWARDS : FORWARDS,
        fromRevision: options.fromRevision ?? (backwards ? END : START),
        ...(options.maxCount !== undefined ? { maxCount: options.maxCount } : {}),
      });
      for await (const r of read) {
        const e = toStored(r);
        if (e) out.push(e);
      }
    } catch (err) {
      if (err instanceof EsdbStreamNotFoundError) return [];
      throw err;
    }
    return out;
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<StoredEvent> {
    let remaining = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    if (remaining <= 0) return;
    const keep = (e: StoredEvent | undefined): e is StoredEvent => e !== undefined && matchesFilter(e, options.filter);
    if (options.direction === 'backwards') {
      const from = options.fromPosition;
      if (from !== undefined) {
        // Forward reads include the record at a position; whether backward ones do is not ours to rely on.
        for await (const e of this.readAllRaw(FORWARDS, { commit: from, prepare: from })) {
          if (e?.position === from && keep(e)) {
            yield e;
            remaining--;
          }
          break;
        }
      }
      if (remaining <= 0) return;
      for await (const e of this.readAllRaw(BACKWARDS, from === undefined ? END : { commit: from, prepare: from })) {
        if (!keep(e) || (from !== undefined && e.position >= from)) continue;
        yield e;
        if (--remaining <= 0) return;
      }
      return;
    }
    const from = options.afterPosition ?? options.fromPosition;
    for await (const e of this.readAllRaw(FORWARDS, from === undefined ? START : { commit: from, prepare: from })) {
      if (!keep(e) || (options.afterPosition !== undefined && e.position <= options.afterPosition)) continue;
      yield e;
      if (--remaining <= 0) return;
    }
  }

  /** $all from a position, system events as undefined; the gRPC call is cancelled however the loop ends. */
  private async *readAllRaw(direction: typeof FORWARDS | typeof BACKWARDS, fromPosition: ReadPosition): AsyncIterable<StoredEvent | undefined> {
    const read = this.client.readAll({ direction, fromPosition });
    try {
      for await (const r of read) yield toStored(r);
    } finally {
      await read.cancel().catch(() => undefined);
    }
  }

  subscribeToAll(options: SubscribeToAllOptions): Subscription {
    if (!options.onEvent === !options.onBatch) throw new Error('subscribeToAll needs exactly one of onEvent or onBatch');
    const from = options.fromCheckpoint;
    // Subscribing from a position delivers what comes after it: the checkpoint itself is not redelivered.
    const sub = this.client.subscribeToAll({ fromPosition: from === undefined ? START : { commit: from, prepare: from }, filter: serverFilter(options.filter) });
    const queue: StoredEvent[] = [];
    let draining = false;
    let stopped = false;
    let settle!: { resolve: () => void; reject: (e: Error) => void };
    const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    done.catch(() => undefined);

    const fail = (err: unknown) => {
      if (stopped) return;
      stopped = true;
      const error = err instanceof Error ? err : new Error(String(err));
      void sub.unsubscribe().catch(() => undefined);
      options.onError?.(error);
      settle.reject(error);
    };

    const drain = async () => {
      try {
        while (queue.length > 0 && !stopped) {
          const batch = queue.splice(0, 500);
          if (options.onBatch) await options.onBatch(batch);
          else for (const e of batch) if (!stopped) await options.onEvent!(e);
        }
      } catch (err) {
        fail(err);
      } finally {
        draining = false;
        if (!stopped) sub.resume();
      }
    };

    sub.on('data', (r: AllStreamResolvedEvent) => {
      let e: StoredEvent | undefined;
      try {
        e = toStored(r);
      } catch (err) {
        return fail(err);
      }
      if (!e || !matchesFilter(e, options.filter) || (from !== undefined && e.position <= from)) return;
      queue.push(e);
      if (!draining) {
        draining = true;
        sub.pause();
        // Let events already read in this tick join the batch.
        setImmediate(() => void drain());
      }
    });
    sub.on('caughtUp', () => options.onCaughtUp?.());
    sub.on('error', fail);
    sub.on('end', () => fail(new EventStoreError('EventStoreDB subscription ended by the server')));

    const subscription: Subscription = {
      done,
      stop: async () => {
        if (stopped) return done.catch(() => undefined);
        stopped = true;
        await sub.unsubscribe().catch(() => undefined);
        while (draining) await new Promise((r) => setTimeout(r, 5));
        settle.resolve();
      },
    };
    this.subscriptions.add(subscription);
    void done.catch(() => undefined).finally(() => this.subscriptions.delete(subscription));
    return subscription;
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    await this.client.dispose();
  }
}
