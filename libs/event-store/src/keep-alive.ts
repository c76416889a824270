/** A piece of work that runs until `done` settles: resolved once stopped, rejected when it failed. */
export interface Running {
  done: Promise<void>;
  stop(): Promise<void>;
}

export interface KeepAliveOptions {
  /** Told of each failure (start-up or run) and the wait before the next start. */
  onFailure: (err: Error, attempt: number, retryInMs: number) => void;
  backoff?: { initialMs: number; maxMs: number };
  /** A run this long counts as healthy: the next failure waits the initial back-off again. */
  healthyAfterMs?: number;
}

/**
 * Starts the work again, from scratch, whenever it fails to start or fails while running — an engine that
 * goes away and comes back costs a wait, not the process (no supervisor needed). The work resumes from its
 * own checkpoint, so nothing is skipped. `stop()` ends the loop and the current run.
 */
export function keepAlive(start: () => Promise<Running>, options: KeepAliveOptions): { done: Promise<void>; stop(): Promise<void> } {
  const backoff = options.backoff ?? { initialMs: 500, maxMs: 15_000 };
  let stopping = false;
  let current: Running | undefined;
  let wake: (() => void) | undefined;
  const loop = async () => {
    let attempt = 0;
    while (!stopping) {
      const startedAt = Date.now();
      try {
        current = await start();
        if (stopping) await current.stop();
        await current.done;
        return;
      } catch (err) {
        await current?.stop().catch(() => undefined);
        current = undefined;
        if (stopping) return;
        if (Date.now() - startedAt >= (options.healthyAfterMs ?? 60_000)) attempt = 0;
        attempt++;
        const wait = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt - 1, 20));
        options.onFailure(err instanceof Error ? err : new Error(String(err)), attempt, wait);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, wait);
        });
      }
    }
  };
  const done = loop();
  return {
    done,
    stop: async () => {
      stopping = true;
      wake?.();
      await current?.stop().catch(() => undefined);
      await done.catch(() => undefined);
    },
  };
}
