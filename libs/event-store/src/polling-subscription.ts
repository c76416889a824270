import type { EventFilter, StoredEvent, SubscribeToAllOptions, Subscription } from './event-store.port';

/** What a pull-based engine (PostgreSQL, in-memory) offers to drive a catch-up-then-live subscription. */
export interface PullSource {
  /**
   * Events matching the filter with position > after, in position order; never skips a committed one.
   * `head`, when given, is a position up to which every committed event was visible to this read: a
   * filtered subscription that found nothing more may move past it instead of re-reading the same span.
   */
  readPage(after: bigint, limit: number, filter: EventFilter | undefined): Promise<{ events: StoredEvent[]; head?: bigint }>;
  /** Registers a callback fired when new events may be visible; returns the unregister function. */
  onAppended(listener: () => void): () => void;
}

export interface PollingOptions {
  pageSize?: number;
  /** Fallback re-read interval when no wake-up arrives (lost NOTIFY, listener reconnecting). */
  pollIntervalMs?: number;
  /** Consecutive read failures tolerated (with backoff) before the subscription fails. */
  maxReadRetries?: number;
}

class Wakeup {
  private dirty = false;
  private resolve: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  notify(): void {
    this.dirty = true;
    const r = this.resolve;
    this.resolve = undefined;
    if (this.timer) clearTimeout(this.timer);
    r?.();
  }

  /** Returns at once if something was notified since the last wait; otherwise after a notify or the timeout. */
  wait(ms: number): Promise<void> {
    if (this.dirty) {
      this.dirty = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.resolve = resolve;
      this.timer = setTimeout(() => {
        this.resolve = undefined;
        resolve();
      }, ms);
    }).then(() => {
      this.dirty = false;
    });
  }
}

export function startPollingSubscription(source: PullSource, options: SubscribeToAllOptions, polling: PollingOptions = {}): Subscription {
  if (!options.onEvent === !options.onBatch) throw new Error('subscribeToAll needs exactly one of onEvent or onBatch');
  const pageSize = polling.pageSize ?? 500;
  const pollIntervalMs = polling.pollIntervalMs ?? 1000;
  const maxReadRetries = polling.maxReadRetries ?? 5;
  const wakeup = new Wakeup();
  const unlisten = source.onAppended(() => wakeup.notify());
  let stopped = false;
  let position = options.fromCheckpoint ?? 0n;

  const deliver = async (page: StoredEvent[]): Promise<void> => {
    if (options.onBatch) {
      await options.onBatch(page);
      position = page[page.length - 1].position;
      return;
    }
    for (const event of page) {
      if (stopped) return;
      await options.onEvent!(event);
      position = event.position;
    }
  };

  const run = async (): Promise<void> => {
    let caughtUp = false;
    let failures = 0;
    while (!stopped) {
      let page: StoredEvent[];
      let head: bigint | undefined;
      try {
        ({ events: page, head } = await source.readPage(position, pageSize, options.filter));
        failures = 0;
      } catch (err) {
        if (stopped) return;
        if (++failures > maxReadRetries) throw err;
        await wakeup.wait(Math.min(200 * 2 ** failures, 5000));
        continue;
      }
      if (stopped) return;
      if (page.length > 0) await deliver(page);
      if (page.length === pageSize) continue;
      if (head !== undefined && head > position && !stopped) position = head;
      if (!caughtUp) {
        caughtUp = true;
        options.onCaughtUp?.();
      }
      await wakeup.wait(pollIntervalMs);
    }
  };

  const done = run().then(
    () => {
      unlisten();
    },
    (err: unknown) => {
      unlisten();
      const error = err instanceof Error ? err : new Error(String(err));
      options.onError?.(error);
      throw error;
    },
  );
  // The caller may never await `done`; the error still reaches onError.
  done.catch(() => undefined);

  return {
    done,
    async stop() {
      stopped = true;
      wakeup.notify();
      await done.catch(() => undefined);
    },
  };
}
