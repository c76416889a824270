import { randomUUID } from 'crypto';
import { Client } from 'pg';
import mongoose from 'mongoose';
import { campaignSendStream, type CampaignSendEvent, DEFAULT_APP_SETTINGS, deviceStream, groupFor, topicsFor } from '@pushledger/contracts';
import { FcmSimulator } from '@pushledger/fcm';
import { StreamExecutor } from '@pushledger/lifecycle';
import { DeviceFlows } from '../../services/registration/src/application/device-flows';
import { InMemoryEventStore, PostgresEventStore, type StoredEvent } from '@pushledger/event-store';
import { createPrivateEventStore, PrivacyEventStore } from '@pushledger/privacy';
import { lastProjectedPosition, ReadModels } from '@pushledger/read-models';
import { api, finishedSend, repoRoot, startStack, Stack, testKafka, TestApp, waitFor } from '@pushledger/testing';
import * as path from 'path';

const DEVICES = Number(process.env.PUSHLEDGER_BROADCAST_DEVICES ?? 20000);
const KILLS = 3;
// Seeding, projection, three kill-restarts (each waits out the dead consumer's Kafka session) and the tail, on a shared 2-core machine.
const BROADCAST_TIMEOUT_MS = 1_200_000;
const SEED_CONCURRENCY = 32;
const KILL_TEST_QUOTA_PER_MINUTE = 6_000;

describe('broadcast campaigns through the read models, the delivery service and the FCM simulator', () => {
  let sim: FcmSimulator;
  let stack: Stack;
  let app: TestApp;
  let server: ReturnType<typeof api>;
  let mongo: mongoose.Connection;
  let store: PrivacyEventStore;
  let pg: Client;
  const readModels = () => new ReadModels(mongo, { pointerTtlMs: 0, store });

  beforeAll(async () => {
    sim = await FcmSimulator.start({ certDir: path.join(repoRoot, '.data/fcm-sim-test'), latencyMs: 40 });
    stack = await startStack(['gateway', 'registration', 'identity', 'relay', 'projector', 'campaign', 'delivery'], { FCM_ENDPOINT: sim.url, FCM_CA_FILE: sim.caFile, DELIVERY_RETRY_BASE_MS: '100', CAMPAIGN_SEND_LEASE_SECONDS: '5' });
    app = await stack.createApp({ rateLimitPerSecond: 100000 });
    server = api(stack.url, app.serverKey);
    mongo = await mongoose.createConnection(stack.env.MONGODB_URI).asPromise();
    // The registration service's own store and lifecycle code: facts written here are what POST /v1/devices would write.
    store = await createPrivateEventStore({ eventStore: { kind: 'postgres', postgresUrl: stack.env.POSTGRES_URL } }, { poolSize: SEED_CONCURRENCY / 2 });
    pg = new Client({ connectionString: stack.env.POSTGRES_URL });
    await pg.connect();
  });
  afterAll(async () => {
    if (process.env.DEBUG_STACK) console.log(stack?.logs());
    await pg?.end();
    await store?.close();
    await mongo?.close();
    await stack?.stop();
    await sim?.stop();
  });

  it('a marketing broadcast skips an unsubscribed user and counts them', async () => {
    const other = await stack.createApp();
    const w = api(stack.url, other.writeKey);
    const s = api(stack.url, other.serverKey);
    await w.post('/v1/devices', { deviceId: 'u1-phone', token: 'ok:bcast-u1-aaaaaaaaaaaaaaaaaaaa', provider: 'fcm', platform: 'ios', userId: 'u1' });
    await w.post('/v1/devices', { deviceId: 'u2-phone', token: 'ok:bcast-u2-aaaaaaaaaaaaaaaaaaaa', provider: 'fcm', platform: 'ios', userId: 'u2' });
    await w.post('/v1/devices', { deviceId: 'anon-phone', token: 'ok:bcast-anon-aaaaaaaaaaaaaaaaaa', provider: 'fcm', platform: 'ios' });
    expect((await s.patch('/v1/users/u2', { unsubscribed: true })).status).toBe(200);
    const c = await s.post('/v1/campaigns', { name: 'promo', kind: 'broadcast', content: { title: 'Promo', body: 'Now' } });
    expect(c.status).toBe(201);
    // The read models follow the store: wait until they show both users with their phone, u2 unsubscribed.
    await waitFor(
      async () => (await readModels().user(other.id, 'u2'))?.unsubscribed === true && (await readModels().userDevices(other.id, 'u1')).length === 1 && (await readModels().userDevices(other.id, 'u2')).length === 1,
      { what: 'the read models to catch up' },
    );
    const sent = await s.post(`/v1/campaigns/${c.body.id}/send`, {});
    expect(sent.status).toBe(202);
    expect(sent.body).toMatchObject({ status: 'sending', targeted: null });
    expect(sent.headers.get('location')).toBe(`/v1/campaigns/${c.body.id}`);
    expect(await finishedSend(s, c.body.id, sent.body.messageId)).toMatchObject({ status: 'sent', targeted: 1, skipped: { unsubscribed: 1 }, runs: 1 });
    await waitFor(async () => sim.requestsFor('ok:bcast-u1-aaaaaaaaaaaaaaaaaaaa').length === 1, { what: 'the push to u1' });
    const stats = await waitFor(async () => {
      const got = await s.get(`/v1/campaigns/${c.body.id}`);
      return got.body?.stats?.sent === 1 ? got.body.stats : undefined;
    }, { what: 'campaign stats' });
    expect(stats).toMatchObject({ targeted: 1, sent: 1, skipped: { unsubscribed: 1 } });
    expect(sim.requestsFor('ok:bcast-u2-aaaaaaaaaaaaaaaaaaaa')).toHaveLength(0);
    expect(sim.requestsFor('ok:bcast-anon-aaaaaaaaaaaaaaaaaa')).toHaveLength(0);
  });

  it(
    `SIGKILL of one of two delivery processes ${KILLS} times during a ${DEVICES}-device broadcast, then of the campaign process running a second one beside another: at least once, and once more at most per kill the pair was in flight at`,
    async () => {
      // Two devices per user; every 100th token is scripted UNREGISTERED by its prefix.
      const devices = Array.from({ length: DEVICES }, (_, j) => {
        const dead = j % 100 === 7;
        return { id: `dev-${j}`, userId: `user-${Math.floor(j / 2)}`, token: `${dead ? 'unregistered' : 'ok'}:bc${j}-${'z'.repeat(24)}`, dead };
      });
      const deviceOfToken = new Map(devices.map((d) => [d.token, d.id]));

      // Seeding through the registration service runs at ~100 devices/s here (28 queries each). The same
      // lifecycle code (DeviceFlows, the privacy store with the stack's own keys) decides every fact against an
      // in-memory store, and the sealed facts are then copied stream by stream, same ids and revisions, into
      // the stack's PostgreSQL store: what the relay, identity service and projector see is what POST /v1/devices writes.
      const seedStart = Date.now();
      const staging = new InMemoryEventStore();
      const flows = new DeviceFlows(new StreamExecutor(new PrivacyEventStore(staging, store.keys)));
      let next = 0;
      await Promise.all(
        Array.from({ length: SEED_CONCURRENCY }, async () => {
          for (let j = next++; j < DEVICES; j = next++) {
            const d = devices[j];
            const at = new Date();
            await flows.handle(
              { type: 'RegisterToken', commandId: randomUUID(), appId: app.id, issuedAt: at.toISOString(), deviceId: d.id, token: d.token, provider: 'fcm', platform: j % 2 ? 'ios' : 'android', attributes: {}, pushEnabled: true, userId: d.userId },
              at,
            );
          }
        }),
      );
      const streams = new Map<string, StoredEvent[]>();
      for await (const e of staging.readAll()) streams.set(e.stream, [...(streams.get(e.stream) ?? []), e]);
      const target = await PostgresEventStore.connect({ connectionString: stack.env.POSTGRES_URL, poolSize: SEED_CONCURRENCY / 2 });
      try {
        const queue = [...streams.entries()];
        await Promise.all(
          Array.from({ length: SEED_CONCURRENCY / 2 }, async () => {
            for (let item = queue.pop(); item; item = queue.pop()) {
              const [name, events] = item;
              await target.appendToStream(name, events.map((e) => ({ eventId: e.eventId, type: e.type, data: e.data, metadata: e.metadata })), { expectedRevision: 'no_stream' });
            }
          }),
        );
      } finally {
        await target.close();
      }
      const seededMs = Date.now() - seedStart;
      console.log(`seeded ${DEVICES} devices in ${seededMs} ms`);
      // The identity service links the users from the relayed facts; the projector folds both into the read models.
      // Polled in the store (one indexed count) and by the projector's checkpoint, not by scanning the read models.
      await waitFor(
        async () => (await pg.query<{ n: number }>("SELECT count(*)::int AS n FROM event_store.events WHERE type = 'UserDeviceLinked' AND metadata->>'appId' = $1", [app.id])).rows[0].n >= DEVICES,
        { what: `the identity service to link ${DEVICES} devices`, timeoutMs: 900000, intervalMs: 2000 },
      );
      const head = await lastProjectedPosition(store);
      await waitFor(async () => (await readModels().position()) >= head, { what: 'the projector to reach the store head', timeoutMs: 900000, intervalMs: 2000 });
      const layout = (await readModels().layout())!;
      let users = 0;
      let linked = 0;
      for (const coll of layout.allUsers()) {
        for (const u of await coll.find({ appId: app.id }, { projection: { userId: 1, devices: 1 } }).toArray()) {
          if (u.userId !== null) users++;
          linked += u.devices.length;
        }
      }
      expect({ users, linked }).toEqual({ users: DEVICES / 2, linked: DEVICES });
      const projectedMs = Date.now() - seedStart;
      console.log(`read models complete ${projectedMs} ms after the seeding began`);

      const ours = () => sim.requests().filter((r) => deviceOfToken.has(r.token));
      const distinctSeen = () => new Set(ours().map((r) => r.token)).size;
      // The app has this one message, so the ledger is read by app while the send is still being answered.
      /** Pairs a process sent (its lease, written before each FCM call, names its pid) that are not yet done. */
      const heldBy = async (pid: number, live = false) =>
        (
          await pg.query<{ device_id: string }>(
            `SELECT device_id FROM delivery.pairs WHERE app_id = $1 AND state = 'pending' AND leased_by LIKE $2${live ? ' AND lease_until > now()' : ''}`,
            [app.id, `${pid}:%`],
          )
        ).rows.map((r) => r.device_id);
      const doneCount = async () => (await pg.query<{ n: number }>("SELECT count(*)::int AS n FROM delivery.pairs WHERE app_id = $1 AND state = 'done'", [app.id])).rows[0].n;

      // Two delivery processes share the requests' partitions; at each kill the one sending dies and the other lives on
      // (after a restart the new process may get no partition with work left before the broadcast ends).
      let deliveryReplica = (await stack.startReplica('delivery')).proc;
      // Paced by the app's FCM quota (100/s), so that three kill cycles fit inside the broadcast however fast the
      // machine sends; the later sends in this suite are not paced.
      const operator = api(stack.url, stack.adminToken);
      expect((await operator.patch(`/v1/apps/${app.id}`, { settings: { fcmQuotaPerMinute: KILL_TEST_QUOTA_PER_MINUTE } })).status).toBe(200);
      const deliveryProcs = () => [stack.procs.get('delivery')!, deliveryReplica];
      const c = await server.post('/v1/campaigns', { name: 'big', kind: 'broadcast', content: { title: 'Big', body: 'news' } });
      expect(c.status).toBe(201);
      const broadcastStart = Date.now();
      // The answer comes once the send is recorded, before the audience is streamed.
      const sent = await server.post(`/v1/campaigns/${c.body.id}/send`, {}, { 'idempotency-key': 'big-broadcast' });
      expect(sent.status).toBe(202);
      expect(sent.body).toMatchObject({ status: 'sending', targeted: null });
      console.log(`send of ${DEVICES} answered in ${Date.now() - broadcastStart} ms`);

      // In flight at kill k: the pairs the killed process had sent (leased) and not finished.
      const inFlight: Set<string>[] = [];
      const simSeenNotDone: number[] = [];
      const killed: string[] = [];
      const failoverMs: number[] = [];
      const groupAdmin = testKafka().admin();
      await groupAdmin.connect();
      const sinceStart = () => Date.now() - broadcastStart;
      const timeline: string[] = [];
      // A stalled wait says where the broadcast stood and what the processes last logged.
      const explained = async <T>(wait: Promise<T>): Promise<T> => {
        try {
          return await wait;
        } catch (err) {
          const pairs = (await pg.query<{ state: string; n: number }>('SELECT state, count(*)::int AS n FROM delivery.pairs WHERE app_id = $1 GROUP BY 1', [app.id])).rows;
          throw new Error(`${(err as Error).message} at ${sinceStart()} ms: ${ours().length} requests, ${distinctSeen()} devices at FCM, pairs ${JSON.stringify(pairs)}; ${timeline.join('; ')}\n${stack.logs()}`);
        }
      };
      try {
        for (let k = 1; k <= KILLS; k++) {
          const requestsBefore = ours().length;
          // A pair in flight at several kills may be sent once per kill, whatever the service does: the checks below
          // bound each device's sends by the kills it was in flight at (waiting for those pairs to be done between
          // kills made the broadcast end first: a redelivered request waits out the dead process's 30 s leases).
          await explained(waitFor(async () => ours().length >= requestsBefore + DEVICES / 10 && distinctSeen() >= (DEVICES * k) / 5, { what: `progress before kill ${k}`, timeoutMs: 300000, intervalMs: 20 }));
          const proc = await explained(waitFor(
            async () => {
              for (const p of deliveryProcs()) if ((await heldBy(p.child.pid!, true)).length > 0) return p;
              return undefined;
            },
            { what: `a delivery process to be sending before kill ${k}`, timeoutMs: 300000, intervalMs: 20 },
          ));
          timeline.push(`kill ${k} at ${sinceStart()} ms (${distinctSeen()} devices at FCM)`);
          proc.kill('SIGKILL');
          const killedAt = Date.now();
          await proc.exited;
          inFlight.push(new Set(await heldBy(proc.child.pid!)));
          // Failover: the requests' group is stable again with the survivor alone, holding every partition.
          await explained(
            waitFor(
              async () => {
                const [g] = (await groupAdmin.describeGroups([groupFor('pushledger-delivery', stack.suffix)])).groups;
                return g.state === 'Stable' && g.members.length === 1;
              },
              { what: `the survivor to hold every delivery partition after kill ${k}`, timeoutMs: 180000, intervalMs: 100 },
            ),
          );
          failoverMs.push(Date.now() - killedAt);
          simSeenNotDone.push(distinctSeen() - (await doneCount()));
          killed.push(proc === stack.procs.get('delivery') ? 'first' : 'replica');
          if (proc === stack.procs.get('delivery')) await stack.restart('delivery');
          else deliveryReplica = (await stack.startReplica('delivery')).proc;
        }
      } finally {
        await groupAdmin.disconnect();
        expect((await operator.patch(`/v1/apps/${app.id}`, { settings: { fcmQuotaPerMinute: DEFAULT_APP_SETTINGS.fcmQuotaPerMinute } })).status).toBe(200);
      }
      expect(inFlight.every((s) => s.size > 0)).toBe(true);
      expect(await finishedSend(server, c.body.id, sent.body.messageId, { timeoutMs: 600000, intervalMs: 1000 })).toMatchObject({ status: 'sent', targeted: DEVICES, skipped: {} });
      expect((await server.post(`/v1/campaigns/${c.body.id}/send`, {}, { 'idempotency-key': 'big-broadcast' })).body).toMatchObject({ messageId: sent.body.messageId, status: 'sent', targeted: DEVICES });
      const messageId = sent.body.messageId as string;

      await waitFor(async () => (await doneCount()) === DEVICES, { what: 'every pair to be done', timeoutMs: 600000, intervalMs: 500 });
      const broadcastMs = Date.now() - broadcastStart;

      const perDevice = new Map<string, number>();
      for (const r of ours()) perDevice.set(deviceOfToken.get(r.token)!, (perDevice.get(deviceOfToken.get(r.token)!) ?? 0) + 1);
      const duplicates = [...perDevice.values()].reduce((a, n) => a + n - 1, 0);
      const inFlightTotal = inFlight.reduce((a, s) => a + s.size, 0);
      console.log(
        `broadcast of ${DEVICES}: seeded in ${seededMs} ms, projected after ${projectedMs} ms, delivered in ${broadcastMs} ms; ` +
          `killed ${killed.join(', ')}, partitions moved ${failoverMs.join(', ')} ms after; in flight at the kills (ledger) ${inFlight.map((s) => s.size).join(', ')} (sim-seen minus done: ${simSeenNotDone.join(', ')}); duplicate sends ${duplicates}`,
      );
      expect(perDevice.size).toBe(DEVICES);
      expect(duplicates).toBeLessThanOrEqual(inFlightTotal);
      // Stronger than the count: a device is sent at most once, plus once per kill it was in flight at (so a
      // duplicated device was in flight at one of them).
      const killsInFlight = (id: string) => inFlight.filter((s) => s.has(id)).length;
      expect([...perDevice].filter(([id, n]) => n > 1 + killsInFlight(id))).toEqual([]);
      // The ledger's count is taken before each send, so it never undercounts what FCM received.
      const { rows } = await pg.query<{ device_id: string; sends: number }>('SELECT device_id, sends FROM delivery.pairs WHERE message_id = $1', [messageId]);
      expect(rows).toHaveLength(DEVICES);
      expect(rows.filter((r) => (perDevice.get(r.device_id) ?? 0) > r.sends)).toEqual([]);

      // Every device effect was on Kafka before its pair was marked done; once the registration service has
      // consumed all of them (duplicates included), the store holds every TokenInvalidated there will be.
      const admin = testKafka().admin();
      await admin.connect();
      const commandsTopic = topicsFor(stack.suffix).registrationCommands;
      await waitFor(
        async () => {
          const ends = await admin.fetchTopicOffsets(commandsTopic);
          const [committed] = await admin.fetchOffsets({ groupId: groupFor('pushledger-registration', stack.suffix), topics: [commandsTopic] });
          return ends.every((e) => Number(e.high) === 0 || Number(committed.partitions.find((p) => p.partition === e.partition)?.offset ?? -1) >= Number(e.high));
        },
        { what: 'the registration service to consume every delivery effect', timeoutMs: 300000, intervalMs: 1000 },
      );
      await admin.disconnect();
      const dead = devices.filter((d) => d.dead).map((d) => deviceStream(app.id, d.id));
      const invalidatedPerStream = new Map<string, number>();
      for await (const e of store.readAll({ filter: { eventTypes: ['TokenInvalidated'], streamPrefixes: [`device-${app.id}-`] } })) invalidatedPerStream.set(e.stream, (invalidatedPerStream.get(e.stream) ?? 0) + 1);
      expect([...invalidatedPerStream.keys()].sort()).toEqual([...dead].sort());
      expect([...invalidatedPerStream.values()].every((n) => n === 1)).toBe(true);

      // The campaign service SIGKILLed while it streams a broadcast's audience: the send's lease (5 s here)
      // lapses and the restarted service takes the send up again; the delivery ledger drops what was sent.
      const head2 = await lastProjectedPosition(store);
      await waitFor(async () => (await readModels().position()) >= head2, { what: 'the projector to fold the invalidations', timeoutMs: 300000, intervalMs: 1000 });
      const live = devices.filter((d) => !d.dead);
      const c2 = await server.post('/v1/campaigns', { name: 'big-again', kind: 'broadcast', content: { title: 'Again', body: 'news' } });
      const requestsBefore = ours().length;
      const sent2 = await server.post(`/v1/campaigns/${c2.body.id}/send`, {});
      expect(sent2.status).toBe(202);
      await waitFor(async () => (await server.get(`/v1/campaigns/${c2.body.id}`)).body?.sends?.[0]?.status === 'sending', { what: 'the second broadcast to start', intervalMs: 20 });
      // The send was claimed by the only campaign process; a second one starts now, and the first dies mid-send.
      const replica = stack.startReplica('campaign');
      const campaignProc = stack.procs.get('campaign')!;
      campaignProc.kill('SIGKILL');
      await campaignProc.exited;
      const seenAtKill = ours().length - requestsBefore;
      await Promise.all([replica, stack.restart('campaign')]);
      const second = await finishedSend(server, c2.body.id, sent2.body.messageId, { timeoutMs: 600000, intervalMs: 1000 });
      expect(second).toMatchObject({ status: 'sent', runs: 2, targeted: live.length });
      const message2 = sent2.body.messageId as string;
      // Each wave targeted exactly once across the two runs: the send's stream holds one outcome per wave.
      const sendFacts = (await store.readStream(campaignSendStream(app.id, message2))) as unknown as CampaignSendEvent[];
      const scheduled = sendFacts.flatMap((e) => (e.type === 'CampaignSendScheduled' ? e.data.waves.map((w) => w.wave) : []));
      const ended = sendFacts.flatMap((e) => (e.type === 'CampaignWaveTargeted' || e.type === 'CampaignWaveFailed' ? [e.data.wave] : []));
      expect(sendFacts.filter((e) => e.type === 'CampaignWaveClaimed').map((e) => e.data.run)).toEqual([1, 2]);
      expect(ended).toEqual(scheduled);
      await waitFor(
        async () => (await pg.query<{ n: number }>("SELECT count(*)::int AS n FROM delivery.pairs WHERE message_id = $1 AND state = 'done'", [message2])).rows[0].n === live.length,
        { what: 'every pair of the resumed broadcast to be done', timeoutMs: 600000, intervalMs: 500 },
      );
      const perLive = new Map<string, number>();
      for (const r of ours().slice(requestsBefore)) perLive.set(deviceOfToken.get(r.token)!, (perLive.get(deviceOfToken.get(r.token)!) ?? 0) + 1);
      const resumedDuplicates = [...perLive.values()].reduce((a, n) => a + n - 1, 0);
      console.log(`campaign service killed mid-broadcast (${seenAtKill} pushes already at FCM): resumed, ${perLive.size} devices reached, duplicate sends ${resumedDuplicates}`);
      expect(live.every((d) => (perLive.get(d.id) ?? 0) >= 1)).toBe(true);
      expect(Math.max(...perLive.values())).toBeLessThanOrEqual(2);
    },
    BROADCAST_TIMEOUT_MS,
  );

  it(
    `a broadcast to the same ${DEVICES} devices cancelled midway stops: pairs already handed to delivery are skipped as cancelled, nothing is sent twice, and sent + cancelled cover every live device`,
    async () => {
      // The audience the test above seeded: every 100th device's token was invalidated by its first broadcast.
      const live = DEVICES - Array.from({ length: DEVICES }, (_, j) => j).filter((j) => j % 100 === 7).length;
      const c = await server.post('/v1/campaigns', { name: 'cancel-me', kind: 'broadcast', content: { title: 'Stop', body: 'me' } });
      expect(c.status).toBe(201);
      const from = sim.requests().length;
      const ofSend = () => sim.requests().slice(from);
      const sent = await server.post(`/v1/campaigns/${c.body.id}/send`, {});
      expect(sent.status).toBe(202);
      const messageId = sent.body.messageId as string;
      await waitFor(async () => ofSend().length >= DEVICES / 10, { what: 'the broadcast to be under way', timeoutMs: 300000, intervalMs: 20 });
      const cancel = await server.post(`/v1/campaigns/${c.body.id}/sends/${messageId}/cancel`, {});
      const answeredAt = Date.now();
      expect(cancel.status).toBe(200);
      expect(cancel.body).toEqual({ messageId, status: 'cancelled' });
      const atCancel = ofSend().length;

      // Final once the wave has recorded what it handed over and the ledger has an outcome for each of those pairs.
      const outcomeRows = async () => (await pg.query<{ outcome: string; reason: string | null; n: number }>('SELECT outcome, reason, count(*)::int AS n FROM delivery.message_outcomes WHERE message_id = $1 GROUP BY 1, 2', [messageId])).rows;
      const stats = await waitFor(
        async () => {
          const s = (await server.get(`/v1/messages/${messageId}/stats`)).body as { targeted: number | null; sent: number; skipped: Record<string, number> };
          const recorded = (await outcomeRows()).reduce((a, r) => a + r.n, 0);
          return typeof s.targeted === 'number' && recorded === s.targeted ? s : undefined;
        },
        { what: 'an outcome for every pair the cancelled send handed to delivery', timeoutMs: 300000, intervalMs: 500 },
      );
      const rows = await outcomeRows();
      const sentRows = rows.filter((r) => r.outcome === 'sent').reduce((a, r) => a + r.n, 0);
      const stoppedByDelivery = rows.filter((r) => r.outcome === 'skipped' && r.reason === 'cancelled').reduce((a, r) => a + r.n, 0);
      const received = ofSend();
      const lastAt = Math.max(...received.map((r) => r.time));
      console.log(
        `cancel of a ${live}-device broadcast: ${atCancel} pushes at FCM when the cancel answered, ${received.length - atCancel} after it, the last ${lastAt - answeredAt} ms after it; ` +
          `sent ${stats.sent}, handed to delivery ${stats.targeted} (${stoppedByDelivery} of them stopped there), cancelled in all ${stats.skipped.cancelled ?? 0}`,
      );
      expect(rows.filter((r) => r.outcome !== 'sent' && !(r.outcome === 'skipped' && r.reason === 'cancelled'))).toEqual([]);
      expect(new Set(received.map((r) => r.token)).size).toBe(received.length);
      expect(received.length).toBe(sentRows);
      expect(stats.sent).toBe(sentRows);
      expect(stats.sent).toBeLessThan(live);
      expect(stats.sent + (stats.skipped.cancelled ?? 0)).toBe(live);
      // Delivery stopped pairs it already held: without it, every pair handed over would have been sent.
      expect(stoppedByDelivery).toBeGreaterThan(0);
    },
    BROADCAST_TIMEOUT_MS,
  );
});
