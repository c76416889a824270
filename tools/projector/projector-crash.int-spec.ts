import type { EventStore } from '@pushledger/event-store';
import { createPrivateEventStore, type PrivacyEventStore } from '@pushledger/privacy';
import { dbOf, Generations, Layout, lastProjectedPosition, rebuildReadModels, ReadModels } from '@pushledger/read-models';
import { canonical, Driver, expectedDocuments, readGeneration } from '../../libs/read-models/src/test/lifecycle-script';
import { createTestDatabase, createTestMongo, startProcess, waitFor, type RunningProcess } from '@pushledger/testing';

const APP = 'app_crash';
const TARGET_EVENTS = 20_000;
const WORKERS = 4;
// Appends, three crash-restarts and the catch-up on a shared 2-core machine, with FerretDB doing a scan per write.
const TEST_TIMEOUT_MS = 900_000;

/** Random device and user traffic from one worker (its own devices; users shared), until the total is reached. */
async function traffic(store: EventStore, worker: number, total: { events: number }): Promise<void> {
  const d = new Driver(store, APP, new Date('2025-01-01T00:00:00Z'));
  let seed = worker + 1;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const devices: string[] = [];
  const user = () => `user-${rnd(150)}`;
  let tokens = 0;
  while (total.events < TARGET_EVENTS) {
    d.tick(20 * 60_000 * (1 + rnd(6)));
    const device = devices.length ? devices[rnd(devices.length)] : undefined;
    const roll = rnd(100);
    let written = 0;
    try {
      if (!device || roll < 12) {
        const id = `w${worker}-d${devices.length}`;
        written += (await d.register(id, `tok-${worker}-${tokens++}`, { platform: (['android', 'ios', 'web'] as const)[rnd(3)], attributes: { appVersion: `${1 + rnd(3)}.${rnd(12)}.0`, locale: ['en-GB', 'es-ES', 'fr-FR'][rnd(3)] }, pushEnabled: rnd(5) ? null : true })).length;
        devices.push(id);
      } else if (roll < 30) written += (await d.device(device, { type: 'Identify', userId: user() })).length;
      else if (roll < 36) written += (await d.device(device, { type: 'Logout', expectedOwner: user() })).length;
      else if (roll < 50) written += (await d.device(device, { type: 'MarkSeen' })).length;
      else if (roll < 58) written += (await d.device(device, { type: 'UpdateDeviceAttributes', attributes: { appVersion: `${1 + rnd(3)}.${rnd(12)}.${rnd(3)}` } })).length;
      else if (roll < 62) written += (await d.device(device, { type: 'ChangePushPermission', pushEnabled: rnd(2) === 0 })).length;
      else if (roll < 66) written += (await d.register(device, `tok-${worker}-${tokens++}`)).length;
      else if (roll < 74) written += (await d.user(user(), { type: 'UpdateTraits', traits: { plan: ['free', 'pro', 'team'][rnd(3)], score: rnd(100), 'a.b': rnd(3) } })).length;
      else if (roll < 78) written += (await d.user(user(), { type: rnd(2) ? 'Unsubscribe' : 'Resubscribe' })).length;
      else if (roll < 79) written += (await d.user(user(), { type: 'EraseUser' })).length + (await d.user(user(), { type: 'LiftErasure' })).length;
      else written += (await d.device(device, { type: 'MarkSeen' })).length;
    } catch (err) {
      // Commands the domain refuses (an erased user, a dead token) are part of the traffic.
      if (!(err instanceof Error) || !/erased|invalidated|not found/i.test(err.message + err.constructor.name)) throw err;
    }
    total.events += written;
  }
}

describe('projector process: crash-safe and convergent', () => {
  let pg: Awaited<ReturnType<typeof createTestDatabase>>;
  let mongo: Awaited<ReturnType<typeof createTestMongo>>;
  // Written, projected and rebuilt through the same crypto-shredding store as in production (user streams pseudonymised).
  let store: PrivacyEventStore;
  let projector: RunningProcess | undefined;
  const total = { events: 0 };

  beforeAll(async () => {
    pg = await createTestDatabase('rm_crash');
    mongo = await createTestMongo('rm_crash');
    store = await createPrivateEventStore({ eventStore: { kind: 'postgres', postgresUrl: pg.url } });
  });
  afterAll(async () => {
    total.events = Number.MAX_SAFE_INTEGER; // stops the writers if the test failed half way
    await projector?.stop();
    await store?.close();
    await mongo?.drop();
    await pg?.drop();
  });

  it('SIGKILLed 3 times during 20,000 appends, it ends equal to a rebuild from scratch, document by document', async () => {
    const env = { POSTGRES_URL: pg.url, MONGODB_URI: mongo.uri, LOG_LEVEL: 'warn' };
    const start = () => startProcess('projector', 'tools/projector/main.js', env, ['--partitions', '4']);
    const reader = new ReadModels(mongo.connection, { pointerTtlMs: 0, store });
    projector = start();

    const writers = Promise.all(Array.from({ length: WORKERS }, (_, w) => traffic(store, w, total)));
    let kills = 0;
    for (const share of [0.25, 0.5, 0.75]) {
      await waitFor(async () => total.events >= TARGET_EVENTS * share, { timeoutMs: 400_000, what: `${share * 100}% of the appends` });
      // Kill it while it is working: after it has checkpointed something since it (re)started.
      const seen = await waitFor(() => reader.position().then((p) => ({ p })), { what: 'the checkpoint' });
      await waitFor(async () => (await reader.position()) > seen.p || total.events >= TARGET_EVENTS, { timeoutMs: 120_000, what: 'the projector to make progress' });
      projector.kill('SIGKILL');
      expect(await projector.exited).toBeNull();
      kills++;
      projector = start();
    }
    await writers;
    expect(kills).toBe(3);
    expect(total.events).toBeGreaterThanOrEqual(TARGET_EVENTS);

    const head = await lastProjectedPosition(store);
    await waitFor(async () => (await reader.position()) >= head, { timeoutMs: 400_000, intervalMs: 250, what: 'the projector to catch up' }).catch((err: Error) => {
      throw new Error(`${err.message}\n${projector?.logs().slice(-3000)}`);
    });
    await projector.stop();

    const db = await dbOf(mongo.connection);
    const live = (await new Generations(db).active())!;
    const rebuilt = await rebuildReadModels(store, db, { activate: false, partitions: 4 });
    expect(rebuilt.events).toBeGreaterThanOrEqual(TARGET_EVENTS);

    const a = await readGeneration(new Layout(db, live));
    const b = await readGeneration(new Layout(db, { id: rebuilt.generation, partitions: 4 }));
    expect(a.devices.size).toBe(b.devices.size);
    expect(a.users.size).toBe(b.users.size);
    const differing = [...b.devices].filter(([id, doc]) => canonical(a.devices.get(id)) !== canonical(doc)).map(([id]) => id);
    differing.push(...[...b.users].filter(([id, doc]) => canonical(a.users.get(id)) !== canonical(doc)).map(([id]) => id));
    expect(differing).toEqual([]);

    // And both equal the domain's own fold of the store.
    const want = await expectedDocuments(store);
    expect(b.devices.size).toBe(want.devices.size);
    expect(b.users.size).toBe(want.users.size);
    for (const [id, doc] of want.devices) expect(canonical(b.devices.get(id))).toBe(canonical(doc));
    for (const [id, doc] of want.users) expect(canonical(b.users.get(id))).toBe(canonical(doc));
  }, TEST_TIMEOUT_MS);
});
