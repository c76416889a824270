import type { CampaignDefinitionV1 } from '@pushledger/contracts';
import { createTestMongo } from '@pushledger/testing';
import { CampaignsStore, type CampaignSendDoc } from './campaigns.store';

const APP = 'app_sends';

const wave = (status: CampaignSendDoc['status'], runs: number): Omit<CampaignSendDoc, '_id'> => ({
  appId: APP,
  campaignId: 'cmp_1',
  messageId: 'msg_1',
  wave: null,
  status,
  dueAt: new Date('2026-01-01T10:00:00Z'),
  startedAt: null,
  finishedAt: null,
  leaseUntil: null,
  runs,
  targeted: 0,
  skipped: {},
  error: null,
});

const campaign = (id: string, createdAt: string, appId = APP): CampaignDefinitionV1 => ({
  id,
  appId,
  name: id,
  kind: 'broadcast',
  audience: null,
  trigger: null,
  content: { title: 't', body: 'b', imageUrl: null, data: {}, locales: {} },
  transactional: false,
  devicePolicy: null,
  schedule: null,
  createdAt,
});

describe('campaigns and send views on FerretDB', () => {
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

  it("a send's view moves only forward: a view from fewer facts of its stream does not overwrite a later one", async () => {
    await store.writeSendView([wave('scheduled', 0)], 1);
    await store.writeSendView([wave('sending', 1)], 2);
    await store.writeSendView([wave('scheduled', 0)], 1);
    expect(await store.getSend(APP, 'msg_1')).toMatchObject({ status: 'sending', runs: 1, revision: 2 });
    await store.writeSendView([wave('sent', 1)], 3);
    expect(await store.getSend(APP, 'msg_1')).toMatchObject({ status: 'sent', revision: 3 });
  });

  it("lists an app's campaigns newest first, a page at a time, and none of another app's", async () => {
    for (let i = 0; i < 5; i++) await store.create(campaign(`cmp_${i}`, `2026-01-0${i + 1}T00:00:00.000Z`));
    await store.create(campaign('cmp_same_time', '2026-01-05T00:00:00.000Z'));
    await store.create(campaign('cmp_theirs', '2026-01-09T00:00:00.000Z', 'app_other'));
    const first = await store.list(APP, 3);
    expect(first.map((c) => c.id)).toEqual(['cmp_same_time', 'cmp_4', 'cmp_3']);
    const last = first[first.length - 1];
    const second = await store.list(APP, 3, { createdAt: last.createdAt, id: last.id });
    expect(second.map((c) => c.id)).toEqual(['cmp_2', 'cmp_1', 'cmp_0']);
    expect(await store.list(APP, 3, { createdAt: '2026-01-01T00:00:00.000Z', id: 'cmp_0' })).toEqual([]);
  });
});
