import { dbOf, Generations, Layout, lastProjectedPosition, ReadModels } from '@pushledger/read-models';
import { createPrivateEventStore, type PrivacyEventStore } from '@pushledger/privacy';
import { createTestDatabase, createTestMongo, leaderPids, startProcess, waitFor, type RunningProcess } from '@pushledger/testing';
import { canonical, Driver, expectedDocuments, readGeneration } from '../../libs/read-models/src/test/lifecycle-script';

const APP = 'app_replicas';

/** Devices registered, identified, re-registered and logged out; users given traits. Until `going()` says stop. */
async function traffic(store: PrivacyEventStore, worker: number, going: () => boolean, written: { events: number }): Promise<void> {
  const d = new Driver(store, APP, new Date('2025-01-01T00:00:00Z'));
  for (let i = 0; going(); i++) {
    const id = `w${worker}-d${i}`;
    const user = `u${(worker * 7 + i) % 40}`;
    d.tick(60_000);
    written.events += (await d.register(id, `tok-${id}-0`)).length;
    written.events += (await d.device(id, { type: 'Identify', userId: user })).length;
    written.events += (await d.user(user, { type: 'UpdateTraits', traits: { plan: ['free', 'pro'][i % 2], n: i } })).length;
    written.events += (await d.register(id, `tok-${id}-1`)).length;
    if (i % 3 === 0) written.events += (await d.device(id, { type: 'Logout', expectedOwner: user })).length;
  }
}

describe('projector replicas: one leads, a standby takes over a killed leader', () => {
  let pg: Awaited<ReturnType<typeof createTestDatabase>>;
  let mongo: Awaited<ReturnType<typeof createTestMongo>>;
  let store: PrivacyEventStore;
  const procs: RunningProcess[] = [];
  let writing = false;
  let writers: Promise<unknown> = Promise.resolve();

  beforeAll(async () => {
    pg = await createTestDatabase('rm_replicas');
    mongo = await createTestMongo('rm_replicas');
    store = await createPrivateEventStore({ eventStore: { kind: 'postgres', postgresUrl: pg.url } });
  });
  afterAll(async () => {
    writing = false; // stops the writers if the test failed half way
    await writers.catch(() => undefined);
    await Promise.all(procs.map((p) => p.stop()));
    await store?.close();
    await mongo?.drop();
    await pg?.drop();
  });

  it('two projectors: one lock holder, the other idle; SIGKILL the leader mid-stream and the read models still equal the store', async () => {
    const env = { POSTGRES_URL: pg.url, MONGODB_URI: mongo.uri, LOG_LEVEL: 'info' };
    const start = () => {
      const p = startProcess('projector', 'tools/projector/main.js', env, ['--partitions', '2']);
      procs.push(p);
      return p;
    };
    const reader = new ReadModels(mongo.connection, { pointerTtlMs: 0, store });
    const [a, b] = [start(), start()];
    writing = true;
    const written = { events: 0 };
    writers = Promise.all([0, 1, 2].map((w) => traffic(store, w, () => writing, written)));

    const holders = await waitFor(async () => {
      const h = await leaderPids(pg.url, 'projector');
      return h.length ? h : undefined;
    }, { timeoutMs: 60_000, what: 'a projector to lead' });
    expect(holders).toHaveLength(1);
    const leader = [a, b].find((p) => p.child.pid === holders[0])!;
    const standby = [a, b].find((p) => p !== leader)!;
    expect(leader).toBeDefined();

    // Kill the leader once it has projected something and more is being written.
    const seen = await waitFor(async () => {
      const p = await reader.position();
      return p > 0n ? { p } : undefined;
    }, { timeoutMs: 60_000, what: 'a first checkpoint' });
    await waitFor(async () => written.events > 600 && (await reader.position()) > seen.p, { timeoutMs: 240_000, what: 'the leader to make progress' });
    expect(standby.logs()).toContain('projector waiting for the lead');
    expect(standby.logs()).not.toContain('projector leading');
    leader.kill('SIGKILL');
    await leader.exited;
    // Read once the leader is gone: a checkpoint it wrote between an earlier read and the signal is not the standby's.
    const atKill = await reader.position();

    const next = await waitFor(async () => {
      const h = await leaderPids(pg.url, 'projector');
      return h.length ? h : undefined;
    }, { timeoutMs: 60_000, what: 'the standby to lead' });
    expect(next).toEqual([standby.child.pid]);
    await waitFor(async () => (await reader.position()) > atKill, { timeoutMs: 120_000, what: 'the standby to project' });
    // Its output reaches this process through a pipe, on its own schedule.
    await waitFor(async () => standby.logs().includes('projector leading'), { timeoutMs: 30_000, what: 'the standby to say it leads' });
    const writtenAtKill = written.events;
    await waitFor(async () => written.events > writtenAtKill + 600, { timeoutMs: 240_000, what: 'more appends after the takeover' });
    writing = false;
    await writers;

    const head = await lastProjectedPosition(store);
    await waitFor(async () => (await reader.position()) >= head, { timeoutMs: 120_000, intervalMs: 250, what: 'the standby to catch up' }).catch((err: Error) => {
      throw new Error(`${err.message}\n${standby.logs().slice(-3000)}`);
    });
    expect(standby.child.exitCode).toBeNull();

    const db = await dbOf(mongo.connection);
    const live = (await new Generations(db).active())!;
    const got = await readGeneration(new Layout(db, live));
    const want = await expectedDocuments(store);
    expect(got.devices.size).toBe(want.devices.size);
    expect(got.users.size).toBe(want.users.size);
    const differing = [...want.devices].filter(([id, doc]) => canonical(got.devices.get(id)) !== canonical(doc)).map(([id]) => id);
    differing.push(...[...want.users].filter(([id, doc]) => canonical(got.users.get(id)) !== canonical(doc)).map(([id]) => id));
    expect(differing).toEqual([]);
    process.stderr.write(`projector replicas: ${written.events} events, ${want.devices.size} devices, ${want.users.size} users\n`);
  }, 720_000);
});
