import { InvalidEventError } from './event-store.errors';
import type { AppendResult, ExpectedRevision, NewEvent, StreamAppend } from './event-store.port';

function hasNul(v: unknown): boolean {
  if (typeof v === 'string') return v.includes('\u0000');
  if (Array.isArray(v)) return v.some(hasNul);
  if (v && typeof v === 'object') return Object.entries(v).some(([k, x]) => k.includes('\u0000') || hasNul(x));
  return false;
}
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Same checks in every adapter, so they fail alike before touching the engine. */
export function validateAppend(stream: string, events: NewEvent[], expected: ExpectedRevision): void {
  if (!stream || stream.startsWith('$')) throw new InvalidEventError(`invalid stream name: '${stream}'`);
  if (typeof expected === 'bigint' && expected < 0n) throw new InvalidEventError(`expected revision must be >= 0, got ${expected}`);
  const seen = new Set<string>();
  for (const e of events) {
    if (!UUID.test(e.eventId)) throw new InvalidEventError(`eventId is not a UUID: '${e.eventId}'`);
    const id = e.eventId.toLowerCase();
    if (seen.has(id)) throw new InvalidEventError(`eventId appears twice in one batch: ${e.eventId}`);
    seen.add(id);
    if (!e.type || e.type.startsWith('$')) throw new InvalidEventError(`invalid event type: '${e.type}'`);
    if (e.data === undefined) throw new InvalidEventError(`event ${e.eventId} has no data`);
    if (!e.metadata || typeof e.metadata !== 'object') throw new InvalidEventError(`event ${e.eventId} has no metadata`);
    if (hasNul(e.data) || hasNul(e.metadata)) throw new InvalidEventError(`event ${e.eventId} contains U+0000, which PostgreSQL jsonb cannot store`);
  }
}

/** validateAppend for each entry; one stream once per call, and no event id in two entries. */
export function validateMultiAppend(appends: StreamAppend[]): void {
  if (appends.length === 0) throw new InvalidEventError('a multi-stream append needs at least one stream');
  const streams = new Set<string>();
  const ids = new Set<string>();
  for (const a of appends) {
    validateAppend(a.stream, a.events, a.expectedRevision);
    if (streams.has(a.stream)) throw new InvalidEventError(`stream appears twice in one append: '${a.stream}'`);
    streams.add(a.stream);
    for (const e of a.events) {
      const id = e.eventId.toLowerCase();
      if (ids.has(id)) throw new InvalidEventError(`eventId appears twice in one batch: ${e.eventId}`);
      ids.add(id);
    }
  }
}

/** Whether a stream whose last revision is `current` (-1: no stream) satisfies `expected`. */
export function satisfiesExpected(current: bigint, expected: ExpectedRevision): boolean {
  if (expected === 'any') return true;
  if (expected === 'no_stream') return current < 0n;
  if (expected === 'stream_exists') return current >= 0n;
  return expected === current;
}

export interface StoredPlace {
  stream: string;
  streamRevision: bigint;
  position: bigint;
}

/**
 * EventStoreDB's idempotency rule: a retried batch is a success, writing nothing, if every event is already
 * stored in this stream, contiguous and in batch order, starting where `expected` said the batch would start
 * (anywhere for 'any'/'stream_exists'). Anything else that overlaps stored ids is not a retry.
 */
export function idempotentResult(stream: string, stored: (StoredPlace | undefined)[], expected: ExpectedRevision): AppendResult | undefined {
  if (stored.length === 0 || stored.some((s) => !s || s.stream !== stream)) return undefined;
  const first = stored[0]!.streamRevision;
  if (stored.some((s, i) => s!.streamRevision !== first + BigInt(i))) return undefined;
  if (expected === 'no_stream' && first !== 0n) return undefined;
  if (typeof expected === 'bigint' && first !== expected + 1n) return undefined;
  const last = stored[stored.length - 1]!;
  return { nextExpectedRevision: last.streamRevision, position: last.position };
}
