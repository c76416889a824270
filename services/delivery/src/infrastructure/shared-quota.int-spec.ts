import { Pool } from 'pg';
import { createTestDatabase } from '@pushledger/testing';
import { SharedQuota } from './shared-quota';

/** 600 a minute: 10 a second, a burst of 10. */
const PER_MINUTE = 600;
const SECOND_OF_QUOTA = 10;

describe('the FCM quota shared by delivery replicas through PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pools: Pool[];
  let replicas: SharedQuota[];

  beforeAll(async () => {
    db = await createTestDatabase('quota');
    // One pool each: two processes, not two objects over one connection.
    pools = [new Pool({ connectionString: db.url, max: 4 }), new Pool({ connectionString: db.url, max: 4 })];
    replicas = pools.map((p) => new SharedQuota(p));
  });
  afterAll(async () => {
    for (const p of pools ?? []) await p.end();
    await db?.drop();
  });

  it('a burst taken by one replica is owed by the other: together they stay under one app quota', async () => {
    expect(await replicas[0].reserve('app-a', SECOND_OF_QUOTA, PER_MINUTE, Infinity)).toEqual({ waitMs: 0 });
    // A per-process limiter would answer 0 here.
    const second = await replicas[1].reserve('app-a', SECOND_OF_QUOTA, PER_MINUTE, Infinity);
    expect(second.waitMs).toBeGreaterThan(800);
    // Another app's bucket is its own.
    expect(await replicas[1].reserve('app-b', SECOND_OF_QUOTA, PER_MINUTE, Infinity)).toEqual({ waitMs: 0 });
  });

  it('reservations racing from both replicas are serialised: the k-th batch of a second each waits about k seconds, none less', async () => {
    const started = Date.now();
    const waits = await Promise.all(Array.from({ length: 16 }, (_, i) => replicas[i % 2].reserve('app-race', SECOND_OF_QUOTA, PER_MINUTE, Infinity)));
    const elapsed = Date.now() - started;
    const sorted = waits.map((w) => w.waitMs!).sort((a, b) => a - b);
    // Refill during the run can shorten a wait by at most the time the run took.
    sorted.forEach((w, k) => expect(w).toBeGreaterThanOrEqual(k * 1000 - elapsed));
    expect(sorted[15]).toBeGreaterThanOrEqual(15_000 - elapsed);
  });

  it('a reservation past the cap is deferred and takes nothing: the next one inside the cap still gets its turn', async () => {
    await replicas[0].reserve('app-cap', SECOND_OF_QUOTA, PER_MINUTE, Infinity);
    const deferred = await replicas[1].reserve('app-cap', 5 * SECOND_OF_QUOTA, PER_MINUTE, 2000);
    expect(deferred.deferMs).toBeGreaterThan(2000);
    const next = await replicas[0].reserve('app-cap', SECOND_OF_QUOTA, PER_MINUTE, 2000);
    // Had the deferral taken its 50, this would owe 6 s.
    expect(next.waitMs).toBeLessThanOrEqual(1000);
    expect(next.waitMs).toBeGreaterThan(0);
  });
});
