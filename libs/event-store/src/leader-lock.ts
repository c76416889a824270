import { Client } from 'pg';
import { keepAlive, type KeepAliveOptions, type Running } from './keep-alive';

/** Held until `release()`, or until `lost` resolves (the lock's connection died: another instance may now lead). */
export interface Leadership {
  readonly lost: Promise<Error>;
  release(): Promise<void>;
}

export interface LeaderLock {
  /** Resolves once this instance leads; waits while another does. Rejects when `signal` aborts. */
  acquire(signal?: AbortSignal): Promise<Leadership>;
}

export interface PostgresLeaderLockOptions {
  connectionString: string;
  /** One leader per name, per database. */
  name: string;
  /** Shown in pg_stat_activity, so an operator (or a test) can see who leads. */
  applicationName?: string;
  /** How often a standby tries the lock. */
  retryMs?: number;
  /** How often the leader checks its connection. */
  checkMs?: number;
  /** A check that fails or takes this long means the lock is lost (its connection is closed, freeing the lock). */
  checkTimeoutMs?: number;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/**
 * A PostgreSQL session advisory lock on a connection of its own. The server frees it the moment that
 * connection ends, so a leader that is killed (or cut off) hands over without waiting for a lease to lapse.
 */
export class PostgresLeaderLock implements LeaderLock {
  constructor(private readonly options: PostgresLeaderLockOptions) {}

  get key(): string {
    return `pushledger.leader.${this.options.name}`;
  }

  async acquire(signal?: AbortSignal): Promise<Leadership> {
    const retryMs = this.options.retryMs ?? 1000;
    for (;;) {
      signal?.throwIfAborted();
      const client = new Client({ connectionString: this.options.connectionString, application_name: this.options.applicationName, keepAlive: true });
      let closed: ((err: Error) => void) | undefined;
      const lost = new Promise<Error>((resolve) => (closed = resolve));
      client.on('error', (err) => closed?.(err));
      client.on('end', () => closed?.(new Error('leader lock connection closed')));
      try {
        await client.connect();
        for (;;) {
          signal?.throwIfAborted();
          const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [this.key]);
          if (rows[0]?.locked) return this.hold(client, lost);
          await sleep(retryMs, signal);
        }
      } catch {
        await client.end().catch(() => undefined);
        signal?.throwIfAborted();
        // The database away: try again, as a standby would.
        await sleep(retryMs, signal);
      }
    }
  }

  private hold(client: Client, connectionLost: Promise<Error>): Leadership {
    const checkMs = this.options.checkMs ?? 5000;
    const checkTimeoutMs = this.options.checkTimeoutMs ?? 10_000;
    let released = false;
    let signalLost!: (err: Error) => void;
    const lost = new Promise<Error>((resolve) => (signalLost = resolve));
    const end = (err: Error) => {
      if (released) return;
      released = true;
      clearInterval(check);
      signalLost(err);
      void client.end().catch(() => undefined);
    };
    void connectionLost.then(end);
    // A connection that silently stopped answering holds no lock we can count on.
    const check = setInterval(() => {
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`leader lock check took over ${checkTimeoutMs} ms`)), checkTimeoutMs).unref());
      Promise.race([client.query('SELECT 1'), timeout]).catch((err: Error) => end(err));
    }, checkMs);
    check.unref();
    return {
      lost,
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(check);
        // Ending the session frees the lock; no unlock query that a stuck connection could hold up.
        await client.end().catch(() => undefined);
      },
    };
  }
}

export interface LeaderOptions extends KeepAliveOptions {
  /** Told each time this instance takes the lead (its work has started). */
  onLeading?: () => void;
}

/**
 * keepAlive, with the work started only while this instance holds `lock`: standbys wait for it, and a leader
 * that loses it stops its work and queues for the lock again. The work resumes from its own checkpoint.
 */
export function keepAliveAsLeader(lock: LeaderLock, start: () => Promise<Running>, options: LeaderOptions): { done: Promise<void>; stop(): Promise<void> } {
  const abort = new AbortController();
  const alive = keepAlive(async () => {
    const leadership = await lock.acquire(abort.signal);
    let work: Running;
    try {
      work = await start();
    } catch (err) {
      await leadership.release();
      throw err;
    }
    options.onLeading?.();
    const lost = leadership.lost.then((err) => {
      throw new Error(`leadership lost: ${err.message}`);
    });
    return {
      done: Promise.race([work.done, lost]),
      stop: async () => {
        await work.stop();
        await leadership.release();
      },
    };
  }, options);
  return {
    done: alive.done,
    stop: async () => {
      abort.abort();
      await alive.stop();
    },
  };
}
