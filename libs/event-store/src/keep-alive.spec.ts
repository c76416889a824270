import { keepAlive, Running } from './keep-alive';

function run(): Running & { fail(err: Error): void; stopped: boolean } {
  let settle!: { resolve: () => void; reject: (err: Error) => void };
  const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  const r = {
    done,
    stopped: false,
    fail: (err: Error) => settle.reject(err),
    stop: async () => {
      r.stopped = true;
      settle.resolve();
    },
  };
  return r;
}

describe('keepAlive', () => {
  it('starts the work again after a failed start and after a failure while running, until stopped', async () => {
    const failures: [string, number][] = [];
    const runs: ReturnType<typeof run>[] = [];
    let starts = 0;
    const alive = keepAlive(
      async () => {
        starts++;
        if (starts === 1) throw new Error('database away');
        const r = run();
        runs.push(r);
        return r;
      },
      { onFailure: (err, attempt) => failures.push([err.message, attempt]), backoff: { initialMs: 1, maxMs: 5 } },
    );
    await waitUntil(() => runs.length === 1);
    runs[0].fail(new Error('connection lost'));
    await waitUntil(() => runs.length === 2);
    expect(failures).toEqual([
      ['database away', 1],
      ['connection lost', 2],
    ]);
    await alive.stop();
    await alive.done;
    expect(runs[1].stopped).toBe(true);
    expect(starts).toBe(3);
  });

  it('a stop during the wait before the next start ends the loop without starting again', async () => {
    let starts = 0;
    const alive = keepAlive(
      async () => {
        starts++;
        throw new Error('still away');
      },
      { onFailure: () => undefined, backoff: { initialMs: 60_000, maxMs: 60_000 } },
    );
    await waitUntil(() => starts === 1);
    await alive.stop();
    expect(starts).toBe(1);
  });
});

async function waitUntil(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!cond()) throw new Error('condition never held');
}
