import type { Running } from './keep-alive';
import { keepAliveAsLeader, type LeaderLock, type Leadership } from './leader-lock';

/** One lock shared by several "instances": a FIFO of waiters, and a way to cut the holder's connection. */
class FakeLock {
  holder: number | undefined;
  private waiters: { id: number; grant: (l: Leadership) => void }[] = [];
  private cut?: (err: Error) => void;

  for(id: number): LeaderLock {
    return {
      acquire: (signal) =>
        new Promise<Leadership>((resolve, reject) => {
          const w = { id, grant: resolve };
          signal?.addEventListener('abort', () => {
            this.waiters = this.waiters.filter((x) => x !== w);
            reject(new Error('aborted'));
          });
          this.waiters.push(w);
          this.grant();
        }),
    };
  }

  /** The holder's connection dies: the server frees the lock at once. */
  dropHolder(): void {
    this.cut?.(new Error('connection reset'));
    this.holder = undefined;
    this.grant();
  }

  private grant(): void {
    if (this.holder !== undefined || !this.waiters.length) return;
    const w = this.waiters.shift()!;
    this.holder = w.id;
    const lost = new Promise<Error>((resolve) => (this.cut = resolve));
    w.grant({
      lost,
      release: async () => {
        if (this.holder !== w.id) return;
        this.holder = undefined;
        this.grant();
      },
    });
  }
}

const tick = () => new Promise((r) => setTimeout(r, 5));
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await tick();
  expect(cond()).toBe(true);
}

describe('keepAliveAsLeader', () => {
  it('runs the work on one instance at a time; a standby starts it when the leader lets go or loses its lock', async () => {
    const lock = new FakeLock();
    const active = new Set<number>();
    let overlap = false;
    const instance = (id: number) =>
      keepAliveAsLeader(
        lock.for(id),
        async (): Promise<Running> => {
          if (active.size) overlap = true;
          active.add(id);
          let finish!: () => void;
          const done = new Promise<void>((r) => (finish = r));
          return {
            done,
            stop: async () => {
              active.delete(id);
              finish();
            },
          };
        },
        { onFailure: () => undefined, backoff: { initialMs: 1, maxMs: 5 } },
      );

    const a = instance(1);
    await until(() => active.has(1));
    const b = instance(2);
    await tick();
    expect([...active]).toEqual([1]);

    // The leader's lock connection dies: it stops its work, the standby leads, and the old leader queues again.
    lock.dropHolder();
    await until(() => active.has(2) && !active.has(1));
    expect(lock.holder).toBe(2);
    // (A cut connection can overlap the old leader's last moments; that is what the work's own checkpoint absorbs.)
    overlap = false;

    // A standby stopped while it waits for the lock stops at once.
    await a.stop();
    expect(active.has(1)).toBe(false);

    // The leader stopped: it releases the lock; a new instance leads.
    await b.stop();
    expect(active.size).toBe(0);
    const c = instance(3);
    await until(() => active.has(3));
    await c.stop();
    expect(overlap).toBe(false);
  });

  it('releases the lock when the work fails to start, and tries again', async () => {
    const lock = new FakeLock();
    let starts = 0;
    const failures: string[] = [];
    const alive = keepAliveAsLeader(
      lock.for(1),
      async (): Promise<Running> => {
        starts++;
        expect(lock.holder).toBe(1);
        if (starts === 1) throw new Error('kafka away');
        let finish!: () => void;
        return { done: new Promise<void>((r) => (finish = r)), stop: async () => finish() };
      },
      { onFailure: (err) => failures.push(err.message), backoff: { initialMs: 1, maxMs: 5 } },
    );
    await until(() => starts === 2);
    expect(failures).toEqual(['kafka away']);
    await alive.stop();
    expect(lock.holder).toBeUndefined();
  });
});
