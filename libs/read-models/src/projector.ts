import type { EventStore, StoredEvent, Subscription } from '@pushledger/event-store';
import { Generations, Layout, type Db, type Generation } from './generations';
import { Projection, PROJECTED_STREAM_PREFIXES, type ProjectionOptions } from './projection';

export interface ProjectorLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface ProjectorOptions extends ProjectionOptions {
  /** Attempts at one page before giving up (the database restarting, a network blip). Default 15 (about a minute). */
  maxAttempts?: number;
  /** Partitions of the first generation, when there is none yet (default: 32 on FerretDB, 1 on MongoDB). */
  partitions?: number;
  /** How often to look for a rebuilt generation made active. Default 2000 ms. */
  generationPollMs?: number;
  logger?: ProjectorLogger;
}

const silent: ProjectorLogger = { info: () => undefined, error: () => undefined };

/**
 * Keeps the active generation up to date: a store subscription (device- and user- streams) from the
 * generation's checkpoint; each page is folded, written, and only then checkpointed, so a crash between
 * the writes and the checkpoint replays facts the documents already reflect (duplicates, ignored).
 * When a rebuild activates another generation, it switches to that one at its own checkpoint.
 */
export class Projector {
  private readonly generations: Generations;
  private generation: Generation | undefined;
  private projection: Projection | undefined;
  private subscription: Subscription | undefined;
  private poll: NodeJS.Timeout | undefined;
  private switching: Promise<void> | undefined;
  private stopped = false;
  private failed!: (err: Error) => void;
  private finished!: () => void;
  private caughtUp = false;
  /** Settles when the projector stops: resolves on stop(), rejects with the error that ended it. */
  readonly done: Promise<void>;
  /** Events folded since start, and the last position checkpointed. */
  readonly progress = { events: 0, batches: 0, position: 0n };

  constructor(
    private readonly store: EventStore,
    private readonly db: Db,
    private readonly options: ProjectorOptions = {},
  ) {
    this.generations = new Generations(db);
    this.done = new Promise<void>((resolve, reject) => {
      this.finished = resolve;
      this.failed = reject;
    });
    this.done.catch(() => undefined);
  }

  get log(): ProjectorLogger {
    return this.options.logger ?? silent;
  }

  get activeGeneration(): Generation | undefined {
    return this.generation;
  }

  /** Waits for the database (up to maxAttempts tries), then follows the active generation (made on first start). */
  async start(): Promise<void> {
    const maxAttempts = this.options.maxAttempts ?? 15;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.follow(await this.generations.ensureActive(this.options.partitions));
        break;
      } catch (err) {
        if (attempt >= maxAttempts) throw err;
        this.log.error('cannot start yet; retrying', { error: (err as Error).message, attempt });
        await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** attempt, 5000)));
      }
    }
    this.poll = setInterval(() => void this.checkGeneration(), this.options.generationPollMs ?? 2000);
    this.poll.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poll) clearInterval(this.poll);
    await this.switching;
    await this.subscription?.stop();
    this.finished();
  }

  private async follow(gen: Generation): Promise<void> {
    const from = await this.generations.checkpoint(gen);
    this.generation = gen;
    this.projection = this.newProjection(gen);
    this.caughtUp = false;
    this.progress.position = from;
    this.log.info('projecting', { generation: gen.id, partitions: gen.partitions, from: from.toString() });
    const sub = this.store.subscribeToAll({
      fromCheckpoint: from,
      filter: { streamPrefixes: PROJECTED_STREAM_PREFIXES },
      onBatch: (events) => this.handle(gen, events),
      onCaughtUp: () => {
        this.caughtUp = true;
        this.log.info('caught up', { generation: gen.id, position: this.progress.position.toString() });
      },
      onError: (err) => {
        if (this.subscription !== sub || this.stopped) return;
        this.log.error('projector stopped on error', { error: err.message });
        this.failed(err);
      },
    });
    this.subscription = sub;
  }

  private newProjection(gen: Generation): Projection {
    return new Projection(new Layout(this.db, gen), this.store, this.options);
  }

  /**
   * One page: fold, write, checkpoint. A failure drops everything held in memory and starts the page again
   * from the stored documents (which are consistent at any point: see Projection), after a backoff.
   */
  private async handle(gen: Generation, events: StoredEvent[]): Promise<void> {
    const last = events[events.length - 1].position;
    const maxAttempts = this.options.maxAttempts ?? 15;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.projection!.apply(events);
        await this.projection!.flush();
        await this.generations.saveCheckpoint(gen, last);
        break;
      } catch (err) {
        if (attempt >= maxAttempts || this.stopped) throw err;
        this.log.error('page failed; retrying from the stored documents', { error: (err as Error).message, attempt });
        this.projection = this.newProjection(gen);
        await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** attempt, 5000)));
      }
    }
    this.progress.events += events.length;
    this.progress.batches++;
    this.progress.position = last;
  }

  /** A rebuild moved the pointer: finish the current page, then follow the new generation. */
  private async checkGeneration(): Promise<void> {
    if (this.stopped || this.switching) return;
    let active: Generation | null;
    try {
      active = await this.generations.active();
    } catch {
      return;
    }
    if (!active || active.id === this.generation?.id) return;
    this.switching = (async () => {
      this.log.info('switching generation', { from: this.generation?.id, to: active.id });
      const old = this.subscription;
      this.subscription = undefined;
      await old?.stop();
      if (!this.stopped) await this.follow(active);
    })()
      .catch((err: Error) => this.failed(err))
      .finally(() => (this.switching = undefined));
  }

  get isCaughtUp(): boolean {
    return this.caughtUp;
  }
}
