import type { EventStore, StoredEvent } from '@pushledger/event-store';
import { defaultPartitions, Generations, Layout, type Db } from './generations';
import { Projection, PROJECTED_STREAM_PREFIXES } from './projection';

export interface RebuildOptions {
  /** Partitions of the new generation; default: the active one's, else the engine's default. */
  partitions?: number;
  /** Write when this many documents are pending (the fold runs in memory in between). Default 50,000. */
  flushEvery?: number;
  /** Documents kept in memory (a document evicted after its write is read back if a later fact needs it). Default 1,000,000. */
  cacheSize?: number;
  /** Move the active pointer to the new generation when done. Default true. */
  activate?: boolean;
  /** Drop the generation that was active before, this long after the switch (readers cache the pointer briefly). Default 10 s; null keeps it. */
  dropPreviousAfterMs?: number | null;
  /** Events read per fold step. Default 2,000. */
  batchSize?: number;
  onProgress?: (p: RebuildProgress) => void;
}

export interface RebuildProgress {
  generation: string;
  events: number;
  position: bigint;
  /** Replay and writes, up to the switch. */
  elapsedMs: number;
}

export interface RebuildResult extends RebuildProgress {
  partitions: number;
  previous: string | null;
  activated: boolean;
  eventsPerSecond: number;
  documents: { devices: number; users: number };
}

/**
 * Replays the whole store into a fresh generation while the active one keeps serving, then points
 * readers (and the running projector, which follows the pointer) at it. The new generation's checkpoint
 * is the last position replayed; the projector carries on from there.
 */
export async function rebuildReadModels(store: EventStore, db: Db, options: RebuildOptions = {}): Promise<RebuildResult> {
  const generations = new Generations(db);
  const previous = await generations.active();
  const partitions = options.partitions ?? previous?.partitions ?? (await defaultPartitions(db));
  const gen = await generations.create(partitions);
  const started = Date.now();
  try {
    const projection = new Projection(new Layout(db, gen), store, { authoritative: true, cacheSize: options.cacheSize ?? 1_000_000 });
    const flushEvery = options.flushEvery ?? 50_000;
    const batchSize = options.batchSize ?? 2000;
    let events = 0;
    let position = 0n;
    let batch: StoredEvent[] = [];
    const step = async (final: boolean) => {
      if (batch.length) {
        await projection.apply(batch);
        events += batch.length;
        position = batch[batch.length - 1].position;
        batch = [];
      }
      if (final || projection.pending >= flushEvery) {
        await projection.flush();
        await generations.saveCheckpoint(gen, position);
        options.onProgress?.({ generation: gen.id, events, position, elapsedMs: Date.now() - started });
      }
    };
    for await (const e of store.readAll({ filter: { streamPrefixes: PROJECTED_STREAM_PREFIXES } })) {
      batch.push(e);
      if (batch.length >= batchSize) await step(false);
    }
    await step(true);
    const elapsedMs = Date.now() - started;

    const activate = options.activate ?? true;
    if (activate) await generations.activate(gen);
    if (activate && previous && options.dropPreviousAfterMs !== null) {
      await new Promise((r) => setTimeout(r, options.dropPreviousAfterMs ?? 10_000));
      await generations.drop(previous);
    }
    const layout = new Layout(db, gen);
    const count = async (colls: { estimatedDocumentCount(): Promise<number> }[]) => (await Promise.all(colls.map((c) => c.estimatedDocumentCount()))).reduce((a, b) => a + b, 0);
    return {
      generation: gen.id,
      partitions,
      previous: previous?.id ?? null,
      activated: activate,
      events,
      position,
      elapsedMs,
      eventsPerSecond: elapsedMs > 0 ? Math.round((events * 1000) / elapsedMs) : events,
      documents: { devices: await count(layout.allDevices()), users: await count(layout.allUsers()) },
    };
  } catch (err) {
    await generations.drop(gen).catch(() => undefined);
    throw err;
  }
}

