import { createHash } from 'crypto';
import type { Decider } from '@pushledger/domain';
import { EventStore, NewEvent, StoredEvent, WrongExpectedVersionError } from '@pushledger/event-store';

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

/** A UUID derived from a name, so a retried step writes the same event ids and the store drops the repeat. */
export function deterministicUuid(name: string): string {
  const h = createHash('sha256').update(name).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
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

  readStream(stream: string, maxCount?: number): Promise<StoredEvent[]> {
    return this.store.readStream(stream, maxCount ? { maxCount } : undefined);
  }

  async load<S, E>(decider: Pick<Decider<unknown, S, E>, 'initialState' | 'evolve'>, stream: string): Promise<{ state: S; stored: StoredEvent[] }> {
    const stored = await this.store.readStream(stream);
    let state = decider.initialState;
    for (const e of stored) state = decider.evolve(state, { type: e.type, data: e.data } as E);
    return { state, stored };
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

function reach(ctx: StepContext, position: bigint): void {
  if (ctx.reached && position > ctx.reached.position) ctx.reached.position = position;
}

function occurredAt(e: { data: unknown }, now: Date): string {
  const at = (e.data as { at?: unknown }).at;
  return typeof at === 'string' ? at : now.toISOString();
}
