import { randomUUID } from 'crypto';
import { deviceStream } from '@pushledger/contracts';
import { StreamExecutor } from '@pushledger/lifecycle';
import { DeviceFlows } from '../../services/registration/src/application/device-flows';
import { JsonLogger } from '@pushledger/observability';
import { createPrivateEventStore, type PrivacyEventStore } from '@pushledger/privacy';
import { createTestDatabase, testConfig } from '@pushledger/testing';
import { Client } from 'pg';
import { STALE_TOKEN_JOB_LOCK, StaleTokenJob } from '../../services/registration/src/application/stale-token.job';

const DAY = 86_400_000;
const T0 = Date.parse('2025-03-01T08:00:00Z');
const day = (n: number) => new Date(T0 + n * DAY);
const APP = 'app_stalea';
const OTHER = 'app_staleb';

describe('stale-token job', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let store: PrivacyEventStore;
  let flows: DeviceFlows;
  const config = () => testConfig({ POSTGRES_URL: db.url });
  const logger = new JsonLogger('stale-test', 'silent');
  const windows = new Map([
    [APP, 30],
    [OTHER, 10],
  ]);
  const job = (now: Date) =>
    new StaleTokenJob(store, config(), flows, logger, { intervalMinutes: 0, clock: () => now, apps: async () => [...windows].map(([id, staleAfterDays]) => ({ id, staleAfterDays })) });

  const register = (appId: string, deviceId: string, at: Date) =>
    flows.handle({ type: 'RegisterToken', commandId: randomUUID(), appId, issuedAt: at.toISOString(), deviceId, token: `tok-${appId}-${deviceId}-abcdefghijklmnopqrstuvwxyz`, provider: 'fcm', platform: 'android', attributes: {}, pushEnabled: true, userId: null }, at);
  const expiredFacts = async (appId: string, deviceId: string) => (await store.readStream(deviceStream(appId, deviceId))).filter((e) => e.type === 'TokenExpired').length;

  beforeAll(async () => {
    db = await createTestDatabase('stalejob');
    store = await createPrivateEventStore({ eventStore: { kind: 'postgres', postgresUrl: db.url } }, { poolSize: 6 });
    flows = new DeviceFlows(new StreamExecutor(store));
    // APP (30 days): old-1..3 last seen on day 0, recent-1..2 on day 20.
    for (const id of ['old-1', 'old-2', 'old-3']) await register(APP, id, day(0));
    for (const id of ['recent-1', 'recent-2']) await register(APP, id, day(20));
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('dry run reports what it would expire and writes nothing', async () => {
    const report = await job(day(31)).runOnce({ dryRun: true });
    expect(report).toMatchObject({ ran: true, dryRun: true });
    expect(report.apps.find((a) => a.appId === APP)!.expired.sort()).toEqual(['old-1', 'old-2', 'old-3']);
    for (const id of ['old-1', 'old-2', 'old-3']) expect(await expiredFacts(APP, id)).toBe(0);
  });

  it('with the clock advanced, exactly the devices past the window expire; a later refresh revives them', async () => {
    // Day 29: nothing in APP is past 30 days yet. Day 31: the three old ones are.
    const early = await job(day(29)).runOnce();
    expect(early.apps.find((a) => a.appId === APP)!.expired).toEqual([]);
    const report = await job(day(31)).runOnce();
    expect(report.apps.find((a) => a.appId === APP)!.expired.sort()).toEqual(['old-1', 'old-2', 'old-3']);
    for (const id of ['old-1', 'old-2', 'old-3']) expect((await flows.view(APP, id)).status).toBe('stale');
    for (const id of ['recent-1', 'recent-2']) expect((await flows.view(APP, id)).status).toBe('active');

    const seenAgain = await register(APP, 'old-2', day(32));
    expect(seenAgain.status).toBe('active');
    expect((await store.readStream(deviceStream(APP, 'old-2'))).map((e) => e.type)).toContain('TokenRevived');
    // Running again at the same instant changes nothing more.
    const again = await job(day(32)).runOnce();
    expect(again.apps.find((a) => a.appId === APP)!.expired).toEqual([]);
    for (const id of ['old-1', 'old-2', 'old-3']) expect(await expiredFacts(APP, id)).toBe(1);
  });

  it('two instances started together expire each device once', async () => {
    // OTHER (10 days): twelve devices seen on day 40, the job run by two instances on day 51.
    for (let i = 0; i < 12; i++) await register(OTHER, `o-${i}`, day(40));
    const [a, b] = await Promise.all([job(day(51)).runOnce(), job(day(51)).runOnce()]);
    const reported = [a, b].flatMap((r) => r.apps.find((x) => x.appId === OTHER)?.expired ?? []);
    expect(new Set(reported)).toEqual(new Set(Array.from({ length: 12 }, (_, i) => `o-${i}`)));
    for (let i = 0; i < 12; i++) expect(await expiredFacts(OTHER, `o-${i}`)).toBe(1);
    expect([a.ran, b.ran]).toContain(true);
  });

  it('does nothing while another instance holds the lock', async () => {
    const holder = new Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock(hashtext($1))', [STALE_TOKEN_JOB_LOCK]);
      await expect(job(day(200)).runOnce()).resolves.toMatchObject({ ran: false, apps: [], expired: 0 });
    } finally {
      await holder.end();
    }
    expect((await job(day(200)).runOnce({ dryRun: true })).ran).toBe(true);
  });
});
