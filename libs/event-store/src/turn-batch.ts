/**
 * Lookups asked for in one turn of the event loop, answered by one query: concurrent commands (a batch of
 * registrations) each load a few streams and keys, and a query per load costs a round trip, a parse and a
 * plan on PostgreSQL for a few rows. `run` gets every request of the turn, each once by its key, and
 * answers by key; a key it leaves out resolves to undefined.
 */
export class TurnBatch<R, V> {
  private pending: Map<string, { request: R; waiting: { resolve: (value: V | undefined) => void; reject: (err: unknown) => void }[] }> | null = null;

  constructor(
    private readonly keyOf: (request: R) => string,
    private readonly run: (requests: R[]) => Promise<Map<string, V>>,
  ) {}

  get(request: R): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      if (!this.pending) {
        this.pending = new Map();
        setImmediate(() => void this.flush());
      }
      const key = this.keyOf(request);
      const entry = this.pending.get(key) ?? { request, waiting: [] };
      entry.waiting.push({ resolve, reject });
      this.pending.set(key, entry);
    });
  }

  private async flush(): Promise<void> {
    const pending = this.pending!;
    this.pending = null;
    try {
      const found = await this.run([...pending.values()].map((e) => e.request));
      for (const [key, { waiting }] of pending) for (const w of waiting) w.resolve(found.get(key));
    } catch (err) {
      for (const { waiting } of pending.values()) for (const w of waiting) w.reject(err);
    }
  }
}
