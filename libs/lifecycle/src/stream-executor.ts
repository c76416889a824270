import { deterministicUuid } from '@pushledger/contracts';
import type { Decider } from '@pushledger/domain';
import { EventStore, NewEvent, ReadStreamOptions, StoredEvent, StreamAppend, WrongExpectedVersionError } from '@pushledger/event-store';

export interface StepContext {
  appId: string;
  /** The request's idempotency key: every event of the flow carries it as correlation id. */
  commandId: string;
  /** Names the step within the flow; `${commandId}:${step}` is the causation id that makes the step idempotent. */
  step: string;
  now: Date;
  /**
   * Raised to the store position of the last fact each step wrote or decided on (an already-run or no-op
   * step stands on the facts it read): once the read models reach it, they show what the flow answered.
   */
  reached?: { position: bigint };
}

export interface StepResult<S, E> {
  events: E[];
  state: S;
  /** Facts in the stream before this step's events. */
  revisionBefore: number;
  /** The step had already run (found by causation id): nothing was decided. */
  replayed: boolean;
}

/**
 * One step of a flow on one stream: read and fold, skip if this step already ran, decide, append with
 * the expected revision. A concurrency conflict re-reads and decides again (only this step).
 */
export class StreamExecutor {
  constructor(
    private readonly store: EventStore,
    private readonly maxConflictRetries = 20,
  ) {}

  readStream(stream: string, options?: ReadStreamOptions): Promise<StoredEvent[]> {
    return this.store.readStream(stream, options);
  }

  async load<S, E>(decider: Pick<Decider<unknown, S, E>, 'initialState' | 'evolve'>, stream: string): Promise<{ state: S; stored: StoredEvent[] }> {
    const stored = await this.store.readStream(stream);
    let state = decider.initialState;
    for (const e of stored) state = decider.evolve(state, { type: e.type, data: e.data } as E);
    return { state, stored };
  }

  /**
   * A step over several streams: `body` loads and decides through the transaction, and everything it
   * decided is appended in one atomic multi-stream append, guarded by the revision of every stream it
   * loaded. A concurrency conflict re-runs the whole body on fresh reads. Idempotent per stream by the
   * step's causation id (a stream that already holds this step's facts is not decided on again).
   */
  async transact<T>(ctx: StepContext, body: (tx: StreamTransaction) => Promise<T>): Promise<T> {
    const causationId = `${ctx.commandId}:${ctx.step}`;
    for (let attempt = 0; ; attempt++) {
      const tx = new StreamTransaction(this.store, causationId, ctx.now);
      const result = await body(tx);
      reach(ctx, tx.readPosition());
      const appends = tx.appends(ctx.appId, ctx.commandId);
      if (!appends.some((a) => a.events.length)) return result;
      try {
        reach(ctx, (await this.store.appendToStreams(appends)).position);
      } catch (err) {
        if (err instanceof WrongExpectedVersionError && attempt < this.maxConflictRetries) {
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
          continue;
        }
        throw err;
      }
      return result;
    }
  }

  async execute<C, S, E extends { type: string; data: unknown }>(decider: Decider<C, S, E>, stream: string, command: C, ctx: StepContext): Promise<StepResult<S, E>> {
    const causationId = `${ctx.commandId}:${ctx.step}`;
    for (let attempt = 0; ; attempt++) {
      const { state, stored } = await this.load<S, E>(decider, stream);
      if (stored.length) reach(ctx, stored[stored.length - 1].position);
      if (stored.some((e) => e.metadata?.causationId === causationId)) return { events: [], state, revisionBefore: stored.length, replayed: true };
      const events = decider.decide(command, state, ctx.now);
      if (events.length === 0) return { events, state, revisionBefore: stored.length, replayed: false };
      const toAppend: NewEvent[] = events.map((e, i) => ({
        eventId: deterministicUuid(`${causationId}|${stream}|${stored.length}|${i}`),
        type: e.type,
        data: e.data,
        metadata: { appId: ctx.appId, correlationId: ctx.commandId, causationId, occurredAt: occurredAt(e, ctx.now), schemaVersion: 1 },
      }));
      try {
        reach(ctx, (await this.store.appendToStream(stream, toAppend, { expectedRevision: stored.length ? BigInt(stored.length - 1) : 'no_stream' })).position);
      } catch (err) {
        if (err instanceof WrongExpectedVersionError && attempt < this.maxConflictRetries) {
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
          continue;
        }
        throw err;
      }
      return { events, state: events.reduce(decider.evolve, state), revisionBefore: stored.length, replayed: false };
    }
  }
}

/** What one stream of a transaction holds: its stored facts, the state they fold to, and what was decided on it. */
interface TxStream {
  stored: StoredEvent[];
  state: unknown;
  evolve: (state: unknown, event: unknown) => unknown;
  events: { type: string; data: unknown }[];
  /** Included in the append as a check even when nothing is decided on it. */
  guarded: boolean;
  /** This step already wrote here (found by causation id): nothing is decided on it again. */
  replayed: boolean;
}

/**
 * One step over several streams, stored in one atomic multi-stream append (see StreamExecutor.transact).
 * `load` reads and folds a stream and guards it: the append fails, and the step re-runs, if the stream
 * moved since; `peek` reads without guarding (facts the decision may see slightly stale).
 */
export class StreamTransaction {
  private readonly streams = new Map<string, TxStream>();

  constructor(
    private readonly store: EventStore,
    private readonly causationId: string,
    private readonly now: Date,
  ) {}

  async load<S, E>(decider: Pick<Decider<unknown, S, E>, 'initialState' | 'evolve'>, stream: string): Promise<S> {
    const s = await this.open(decider, stream);
    s.guarded = true;
    return s.state as S;
  }

  async peek<S, E>(decider: Pick<Decider<unknown, S, E>, 'initialState' | 'evolve'>, stream: string): Promise<S> {
    return (await this.open(decider, stream)).state as S;
  }

  /** Decides on the stream's current state (as loaded, plus what this step decided on it already). */
  async decide<C, S, E extends { type: string; data: unknown }>(decider: Decider<C, S, E>, stream: string, command: C): Promise<{ state: S; events: { event: E; revision: number }[] }> {
    const s = await this.open(decider, stream);
    s.guarded = true;
    if (s.replayed) return { state: s.state as S, events: [] };
    const events = decider.decide(command, s.state as S, this.now);
    const before = s.stored.length + s.events.length;
    for (const e of events) {
      s.events.push(e);
      s.state = s.evolve(s.state, e);
    }
    return { state: s.state as S, events: events.map((event, i) => ({ event, revision: before + i + 1 })) };
  }

  /** Facts stored in the stream before this step (as loaded). */
  stored(stream: string): StoredEvent[] {
    return this.streams.get(stream)?.stored ?? [];
  }

  isReplayed(stream: string): boolean {
    return this.streams.get(stream)?.replayed ?? false;
  }

  appends(appId: string, correlationId: string): StreamAppend[] {
    const out: StreamAppend[] = [];
    for (const [stream, s] of this.streams) {
      if (!s.guarded) continue;
      const n = s.stored.length;
      out.push({
        stream,
        expectedRevision: n ? BigInt(n - 1) : 'no_stream',
        events: s.events.map((e, i) => ({
          eventId: deterministicUuid(`${this.causationId}|${stream}|${n}|${i}`),
          type: e.type,
          data: e.data,
          metadata: { appId, correlationId, causationId: this.causationId, occurredAt: occurredAt(e, this.now), schemaVersion: 1 },
        })),
      });
    }
    return out;
  }

  /** Highest position among the facts read. */
  readPosition(): bigint {
    let p = 0n;
    for (const s of this.streams.values()) {
      const last = s.stored[s.stored.length - 1];
      if (last && last.position > p) p = last.position;
    }
    return p;
  }

  private async open<S, E>(decider: Pick<Decider<unknown, S, E>, 'initialState' | 'evolve'>, stream: string): Promise<TxStream> {
    let s = this.streams.get(stream);
    if (!s) {
      const stored = await this.store.readStream(stream);
      let state = decider.initialState;
      for (const e of stored) state = decider.evolve(state, { type: e.type, data: e.data } as E);
      s = {
        stored,
        state,
        evolve: decider.evolve as (state: unknown, event: unknown) => unknown,
        events: [],
        guarded: false,
        replayed: stored.some((e) => e.metadata?.causationId === this.causationId),
      };
      this.streams.set(stream, s);
    }
    return s;
  }
}

function reach(ctx: StepContext, position: bigint): void {
  if (ctx.reached && position > ctx.reached.position) ctx.reached.position = position;
}

function occurredAt(e: { data: unknown }, now: Date): string {
  const at = (e.data as { at?: unknown }).at;
  return typeof at === 'string' ? at : now.toISOString();
}
