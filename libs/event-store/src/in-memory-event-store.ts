import { idempotentResult, satisfiesExpected, validateMultiAppend } from './append-rules';
import { DuplicateEventIdError, WrongExpectedVersionError } from './event-store.errors';
import {
  matchesFilter,
  type AppendOptions,
  type AppendResult,
  type CheckpointStore,
  type EventFilter,
  type EventStore,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type MultiAppendResult,
  type StoredEvent,
  type StreamAppend,
  type SubscribeToAllOptions,
  type Subscription,
} from './event-store.port';
import { startPollingSubscription, type PollingOptions } from './polling-subscription';

const clone = <T>(value: T): T => (value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T));

export class InMemoryCheckpointStore implements CheckpointStore {
  private readonly positions = new Map<string, bigint>();
  async load(name: string): Promise<bigint | undefined> {
    return this.positions.get(name);
  }
  async save(name: string, position: bigint): Promise<void> {
    this.positions.set(name, position);
  }
}

/** For unit tests of other libs: same contract as the real adapters, nothing durable. */
export class InMemoryEventStore implements EventStore {
  readonly kind = 'in-memory' as const;
  readonly checkpoints = new InMemoryCheckpointStore();
  private readonly log: StoredEvent[] = [];
  private readonly streams = new Map<string, StoredEvent[]>();
  private readonly byId = new Map<string, StoredEvent>();
  private readonly listeners = new Set<() => void>();
  private readonly subscriptions = new Set<Subscription>();

  constructor(private readonly polling: PollingOptions = {}) {}

  readonly atomicMultiStream = true;
  readonly storesDataKeys = false;

  async appendToStream(stream: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> {
    return (await this.appendToStreams([{ stream, events, expectedRevision: options.expectedRevision }])).streams[0];
  }

  async appendToStreams(appends: StreamAppend[]): Promise<MultiAppendResult> {
    validateMultiAppend(appends);
    // Yield once so concurrent callers interleave as they would against a server; the rest is atomic.
    await Promise.resolve();
    // Every entry is checked before any is written, so a conflict anywhere writes nothing.
    const plans = appends.map((a) => this.plan(a));
    let position = 0n;
    const streams = appends.map((a, i) => {
      const plan = plans[i];
      if ('result' in plan) return plan.result;
      const result = this.write(a.stream, a.events, plan.current);
      if (result.position > position) position = result.position;
      return result;
    });
    if (position > 0n) for (const l of this.listeners) l();
    return { streams, position };
  }

  private plan({ stream, events, expectedRevision: expected }: StreamAppend): { result: AppendResult } | { current: bigint } {
    const current = BigInt((this.streams.get(stream) ?? []).length) - 1n;
    const stored = events.map((e) => this.byId.get(e.eventId.toLowerCase()));
    if (stored.some((x) => x !== undefined)) {
      const retried = idempotentResult(stream, stored, expected);
      if (retried) return { result: retried };
    }
    if (!satisfiesExpected(current, expected)) throw new WrongExpectedVersionError(stream, expected, current < 0n ? 'no_stream' : current);
    if (stored.some((x) => x !== undefined)) throw new DuplicateEventIdError(stream, events.filter((_, i) => stored[i]).map((e) => e.eventId));
    if (events.length === 0) return { result: { nextExpectedRevision: current, position: 0n } };
    return { current };
  }

  private write(stream: string, events: NewEvent[], current: bigint): AppendResult {
    const existing = this.streams.get(stream) ?? [];
    for (const [i, e] of events.entries()) {
      const record: StoredEvent = {
        eventId: e.eventId.toLowerCase(),
        type: e.type,
        data: clone(e.data),
        metadata: clone(e.metadata),
        stream,
        streamRevision: current + 1n + BigInt(i),
        position: BigInt(this.log.length + 1),
      };
      this.log.push(record);
      existing.push(record);
      this.byId.set(record.eventId, record);
    }
    this.streams.set(stream, existing);
    const last = existing[existing.length - 1];
    return { nextExpectedRevision: last.streamRevision, position: last.position };
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
    const events = this.streams.get(stream) ?? [];
    const max = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    const out =
      options.direction === 'backwards'
        ? events.filter((e) => options.fromRevision === undefined || e.streamRevision <= options.fromRevision).reverse()
        : events.filter((e) => options.fromRevision === undefined || e.streamRevision >= options.fromRevision);
    return out.slice(0, max).map(clone2);
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<StoredEvent> {
    let remaining = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    const backwards = options.direction === 'backwards';
    const snapshot = backwards ? [...this.log].reverse() : [...this.log];
    for (const e of snapshot) {
      if (remaining <= 0) return;
      if (backwards && options.fromPosition !== undefined && e.position > options.fromPosition) continue;
      if (!backwards && options.fromPosition !== undefined && e.position < options.fromPosition) continue;
      if (!backwards && options.afterPosition !== undefined && e.position <= options.afterPosition) continue;
      if (!matchesFilter(e, options.filter)) continue;
      remaining--;
      yield clone2(e);
    }
  }

  subscribeToAll(options: SubscribeToAllOptions): Subscription {
    const sub = startPollingSubscription(
      {
        readPage: async (after: bigint, limit: number, filter: EventFilter | undefined) => {
          const out: StoredEvent[] = [];
          let i = Number(after);
          for (; i < this.log.length && out.length < limit; i++) {
            if (matchesFilter(this.log[i], filter)) out.push(clone2(this.log[i]));
          }
          return { events: out, head: out.length < limit ? BigInt(i) : undefined };
        },
        onAppended: (listener) => {
          this.listeners.add(listener);
          return () => this.listeners.delete(listener);
        },
      },
      options,
      { pollIntervalMs: 50, ...this.polling },
    );
    this.subscriptions.add(sub);
    void sub.done.catch(() => undefined).finally(() => this.subscriptions.delete(sub));
    return sub;
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
  }
}

function clone2(e: StoredEvent): StoredEvent {
  return { ...e, data: clone(e.data), metadata: clone(e.metadata) };
}
