import type { Producer } from 'kafkajs';
import { campaignSendStream, DEFAULT_APP_SETTINGS, topicsFor, type AppRecord, type CampaignDefinitionV1 } from '@pushledger/contracts';
import { CampaignSendFinishedError, CampaignSendNotFoundError, CampaignWaveLeaseLostError, type DeviceView } from '@pushledger/domain';
import { PostgresEventStore } from '@pushledger/event-store';
import { createProducer } from '@pushledger/kafka';
import { StreamExecutor } from '@pushledger/lifecycle';
import { CampaignsStore, MessagesStore } from '@pushledger/messages';
import { InMemoryKeyStore, RecipientSeals } from '@pushledger/privacy';
import { createTestDatabase, createTestMongo, testKafka } from '@pushledger/testing';
import type { AudiencePair, AudienceSource } from './audience';
import { CampaignRunner } from './campaign.runner';
import { CampaignSends } from './campaign-sends';
import { DeliveryRequests } from './delivery-requests';
import type { PushSender } from './push.sender';

const APP = 'app_sendproc';
const LEASE = 60_000;
const T0 = new Date('2026-06-01T10:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

const app = { id: APP, settings: DEFAULT_APP_SETTINGS } as AppRecord;
const campaign: CampaignDefinitionV1 = {
  id: 'cmp_big',
  appId: APP,
  name: 'big',
  kind: 'broadcast',
  audience: null,
  trigger: null,
  content: { title: 'Big', body: 'news', imageUrl: null, data: {}, locales: {} },
  transactional: false,
  devicePolicy: null,
  schedule: null,
  createdAt: T0.toISOString(),
};

/** An audience of `size` devices that stops after `openUntil` pairs until `release()` (the moment the test cancels). */
function gatedAudience(size: number, openUntil: number) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let reached!: () => void;
  const atGate = new Promise<void>((r) => (reached = r));
  const source: AudienceSource = {
    async plan() {
      return {
        pairs: (async function* (): AsyncGenerator<AudiencePair> {
          for (let i = 0; i < size; i++) {
            if (i === openUntil) {
              reached();
              await gate;
            }
            yield { device: { id: `dev-${i}`, token: `ok:tok-${i}`, userId: null, locale: null, timezone: null } as unknown as DeviceView, user: null };
          }
        })(),
        skipped: () => ({}),
      };
    },
  };
  return { source, release, atGate };
}

describe('a campaign send as an event-sourced process (PostgreSQL event store, FerretDB views, Kafka)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let mongo: Awaited<ReturnType<typeof createTestMongo>>;
  let stores: PostgresEventStore[];
  let views: CampaignsStore;
  let messages: MessagesStore;
  let producer: Producer;
  const handed: string[] = [];
  const told: { type: string; appId: string; messageId: string }[] = [];
  const topics = topicsFor('sendproc');
  /** One CampaignSends per simulated replica, each over its own store connection pool. */
  let replicas: CampaignSends[];

  beforeAll(async () => {
    db = await createTestDatabase('sendproc');
    mongo = await createTestMongo('sendproc');
    stores = await Promise.all(Array.from({ length: 6 }, () => PostgresEventStore.connect({ connectionString: db.url, poolSize: 2 })));
    views = new CampaignsStore(mongo.connection);
    messages = new MessagesStore(mongo.connection);
    await views.init();
    await messages.init();
    const real = createProducer(testKafka());
    await real.connect();
    // The real producer; the test keeps the keys of the requests handed to delivery.
    producer = Object.assign(Object.create(real) as Producer, {
      send: async (record: Parameters<Producer['send']>[0]) => {
        if (record.topic === topics.deliveryCommands) told.push(...record.messages.map((m) => JSON.parse(String(m.value))));
        else handed.push(...record.messages.map((m) => String(m.key)));
        return real.send(record);
      },
      disconnect: () => real.disconnect(),
    });
    replicas = stores.map((s) => new CampaignSends(new StreamExecutor(s), views, producer, topics));
  });
  afterAll(async () => {
    await producer?.disconnect();
    await Promise.all((stores ?? []).map((s) => s.close()));
    await mongo?.drop();
    await db?.drop();
  });

  it('of six replicas claiming a due wave at once, one runs it; after its lease lapses one other takes it up, and the first can no longer renew or record', async () => {
    await replicas[0].schedule(APP, 'cmp_a', 'msg_a', [{ wave: null, dueAt: T0.toISOString() }], T0);
    const [due] = (await views.dueSends(T0)).filter((s) => s.messageId === 'msg_a');
    expect(due).toMatchObject({ status: 'scheduled', runs: 0 });

    const claims = await Promise.all(replicas.map((r) => r.claim(due, LEASE, T0)));
    const won = claims.filter((c) => c !== null);
    expect(won).toEqual([{ appId: APP, messageId: 'msg_a', wave: null, run: 1 }]);
    expect(await views.getSend(APP, 'msg_a')).toMatchObject({ status: 'sending', runs: 1, leaseUntil: at(LEASE) });
    expect((await views.dueSends(at(LEASE - 1))).filter((s) => s.messageId === 'msg_a')).toEqual([]);

    const lapsed = at(LEASE + 1);
    const [again] = (await views.dueSends(lapsed)).filter((s) => s.messageId === 'msg_a');
    const retakes = (await Promise.all(replicas.map((r) => r.claim(again, LEASE, lapsed)))).filter((c) => c !== null);
    expect(retakes).toEqual([{ appId: APP, messageId: 'msg_a', wave: null, run: 2 }]);
    await expect(replicas[1].renew(won[0]!, LEASE, lapsed)).rejects.toBeInstanceOf(CampaignWaveLeaseLostError);
    await expect(replicas[1].recordTargeted(won[0]!, 9, {}, lapsed)).rejects.toBeInstanceOf(CampaignWaveLeaseLostError);
    await replicas[2].recordTargeted(retakes[0]!, 3, { unsubscribed: 1 }, lapsed);
    expect(await views.getSend(APP, 'msg_a')).toMatchObject({ status: 'sent', runs: 2, targeted: 3, skipped: { unsubscribed: 1 }, leaseUntil: null });
    // Only the facts of the winners are in the stream: one schedule, two claims, one count.
    expect((await stores[0].readStream(campaignSendStream(APP, 'msg_a'))).map((e) => e.type)).toEqual(['CampaignSendScheduled', 'CampaignWaveClaimed', 'CampaignWaveClaimed', 'CampaignWaveTargeted']);
  });

  it('a running send cancelled midway hands nothing more to delivery and counts the rest as cancelled', async () => {
    const { source, release, atGate } = gatedAudience(1800, 600);
    const runner = new CampaignRunner(views, messages, {} as PushSender, replicas[0], new StreamExecutor(stores[0]), source, new DeliveryRequests(new RecipientSeals(new InMemoryKeyStore()), producer, topics));
    await replicas[0].schedule(APP, campaign.id, 'msg_cancel', [{ wave: null, dueAt: T0.toISOString() }], T0);
    const [due] = (await views.dueSends(T0)).filter((s) => s.messageId === 'msg_cancel');
    const claim = (await replicas[3].claim(due, LEASE, T0))!;
    const running = runner.broadcast(app, campaign, 'msg_cancel', T0, undefined, () => replicas[3].check(claim));
    await atGate;
    expect(await replicas[4].cancel(APP, campaign.id, 'msg_cancel', undefined, at(1000))).toEqual({ messageId: 'msg_cancel', status: 'cancelled' });
    release();
    const result = await running;
    // 500 pairs were handed over before the cancel (one delivery request); the other 1,300 never were.
    expect(result).toEqual({ messageId: 'msg_cancel', targeted: 500, skipped: { cancelled: 1300 } });
    expect(handed.filter((k) => k.startsWith('msg_cancel:'))).toEqual(['msg_cancel:0']);
    // Delivery is told, so it stops what was handed over and not yet sent.
    expect(told.filter((c) => c.messageId === 'msg_cancel')).toMatchObject([{ type: 'CancelMessage', appId: APP, messageId: 'msg_cancel' }]);
    await replicas[3].recordTargeted(claim, result.targeted, result.skipped, at(2000));
    expect(await views.getSend(APP, 'msg_cancel')).toMatchObject({ status: 'cancelled', targeted: 500, skipped: { cancelled: 1300 } });
    expect(await messages.message(APP, 'msg_cancel')).toMatchObject({ targeted: 500, skipped: { cancelled: 1300 } });
  });

  it('a scheduled send cancelled is never claimed; a second cancel answers the same; a finished send or another campaign cannot be cancelled', async () => {
    await replicas[0].schedule(APP, 'cmp_s', 'msg_sched', [{ wave: null, dueAt: at(3_600_000).toISOString() }], T0);
    expect(await replicas[1].cancel(APP, 'cmp_s', 'msg_sched', undefined, T0)).toEqual({ messageId: 'msg_sched', status: 'cancelled' });
    expect(await replicas[2].cancel(APP, 'cmp_s', 'msg_sched', undefined, at(1))).toEqual({ messageId: 'msg_sched', status: 'cancelled' });
    expect((await views.dueSends(at(3_600_001))).filter((s) => s.messageId === 'msg_sched')).toEqual([]);
    expect(await replicas[0].claim({ appId: APP, campaignId: 'cmp_s', messageId: 'msg_sched', wave: null, dueAt: at(3_600_000) }, LEASE, at(3_600_001))).toBeNull();
    await expect(replicas[0].cancel(APP, 'cmp_other', 'msg_sched', undefined, at(2))).rejects.toBeInstanceOf(CampaignSendNotFoundError);
    await expect(replicas[0].cancel(APP, 'cmp_a', 'msg_a', undefined, at(2))).rejects.toBeInstanceOf(CampaignSendFinishedError);
    await expect(replicas[0].cancel(APP, 'cmp_s', 'msg_nothing', undefined, at(2))).rejects.toBeInstanceOf(CampaignSendNotFoundError);
  });

  it('local-time waves: each wave counted once even when a wave is re-run after its runner died', async () => {
    const W1 = at(0).toISOString();
    const W2 = at(3_600_000).toISOString();
    await replicas[0].schedule(APP, 'cmp_lt', 'msg_lt', [{ wave: W1, dueAt: W1 }, { wave: W2, dueAt: W2 }], T0);
    const doc = { appId: APP, campaignId: 'cmp_lt', messageId: 'msg_lt', transactional: false };
    const first = (await replicas[0].claim({ ...doc, wave: W1, dueAt: new Date(W1) }, LEASE, T0))!;
    // Run 1 wrote its counts and died before recording the wave; run 2 writes the same document again.
    await messages.recordWave(doc, W1, 4, {});
    const second = (await replicas[1].claim({ ...doc, wave: W1, dueAt: new Date(W1) }, LEASE, at(LEASE + 1)))!;
    expect(second.run).toBe(2);
    expect(first.run).toBe(1);
    await messages.recordWave(doc, W1, 4, {});
    await replicas[1].recordTargeted(second, 4, {}, at(LEASE + 2));
    expect(await views.getSend(APP, 'msg_lt')).toBeNull();
    expect((await views.sendsOf(APP, 'cmp_lt')).map((s) => [s.wave, s.status])).toEqual([[W1, 'sent'], [W2, 'scheduled']]);
    const w2 = (await replicas[2].claim({ ...doc, wave: W2, dueAt: new Date(W2) }, LEASE, new Date(W2)))!;
    await messages.recordWave(doc, W2, 6, { unsubscribed: 2 });
    await replicas[2].recordTargeted(w2, 6, { unsubscribed: 2 }, new Date(W2));
    expect(await messages.message(APP, 'msg_lt')).toMatchObject({ targeted: 10, skipped: { unsubscribed: 2 } });
    expect((await views.sendsOf(APP, 'cmp_lt')).map((s) => s.status)).toEqual(['sent', 'sent']);
  });
});
