import { createTestMongo } from '@pushledger/testing';
import { CampaignsStore } from './campaigns.store';

const APP = 'app_sends';
const LEASE = 60_000;

describe('campaign sends on FerretDB: due, claimed with a lease, taken up again when the lease lapses', () => {
  let mongo: Awaited<ReturnType<typeof createTestMongo>>;
  let store: CampaignsStore;

  beforeAll(async () => {
    mongo = await createTestMongo('sends');
    store = new CampaignsStore(mongo.connection);
    await store.init();
  });
  afterAll(async () => {
    await mongo?.drop();
  });

  it('records a send once; exactly one of concurrent claimers wins; the winner renews, a finished send is not due', async () => {
    const now = new Date('2026-01-01T10:00:00Z');
    expect(await store.addSend(APP, 'cmp_1', 'msg_1', now)).toBe(true);
    expect(await store.addSend(APP, 'cmp_1', 'msg_1', now)).toBe(false);
    expect(await store.dueSends(new Date(now.getTime() - 1))).toEqual([]);
    const [due] = await store.dueSends(now);
    expect(due).toMatchObject({ messageId: 'msg_1', status: 'scheduled', runs: 0 });

    const wins = await Promise.all(Array.from({ length: 8 }, () => store.claim(due, now, LEASE)));
    expect(wins.filter(Boolean)).toHaveLength(1);
    expect(await store.getSend(APP, 'msg_1')).toMatchObject({ status: 'sending', runs: 1, leaseUntil: new Date(now.getTime() + LEASE) });
    expect(await store.dueSends(new Date(now.getTime() + LEASE - 1))).toEqual([]);

    expect(await store.renewLease(due._id, 1, new Date(now.getTime() + 2 * LEASE))).toBe(true);
    expect(await store.dueSends(new Date(now.getTime() + LEASE + 1))).toEqual([]);
    await store.finishSend(APP, 'msg_1', null, 3, { unsubscribed: 1 });
    expect(await store.getSend(APP, 'msg_1')).toMatchObject({ status: 'sent', targeted: 3, skipped: { unsubscribed: 1 }, leaseUntil: null });
    expect(await store.renewLease(due._id, 1, new Date(now.getTime() + 3 * LEASE))).toBe(false);
    expect(await store.dueSends(new Date(now.getTime() + 10 * LEASE))).toEqual([]);
  });

  it("a lapsed lease makes the send due again; one claimer takes it up (run 2) and the dead run's renewal is refused", async () => {
    const now = new Date('2026-01-01T11:00:00Z');
    await store.addSend(APP, 'cmp_2', 'msg_2', now);
    const [due] = (await store.dueSends(now)).filter((s) => s.messageId === 'msg_2');
    expect(await store.claim(due, now, LEASE)).toBe(true);

    const later = new Date(now.getTime() + LEASE + 1);
    const [lapsed] = (await store.dueSends(later)).filter((s) => s.messageId === 'msg_2');
    expect(lapsed).toMatchObject({ status: 'sending', runs: 1 });
    const wins = await Promise.all(Array.from({ length: 4 }, () => store.claim(lapsed, later, LEASE)));
    expect(wins.filter(Boolean)).toHaveLength(1);
    expect(await store.getSend(APP, 'msg_2')).toMatchObject({ status: 'sending', runs: 2 });
    // A claimer that saw the send before the lapse (run 1 taken) loses too.
    expect(await store.claim(due, later, LEASE)).toBe(false);
    // The first runner, if it was only slow, can no longer extend the lease or fail the send.
    expect(await store.renewLease(lapsed._id, 1, new Date(later.getTime() + 5 * LEASE))).toBe(false);
    await store.failSend(lapsed._id, 1, 'stale runner');
    expect(await store.getSend(APP, 'msg_2')).toMatchObject({ status: 'sending', runs: 2 });
    await store.failSend(lapsed._id, 2, 'gave up');
    expect(await store.getSend(APP, 'msg_2')).toMatchObject({ status: 'failed', error: 'gave up' });
  });
});
