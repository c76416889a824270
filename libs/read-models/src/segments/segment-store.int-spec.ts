import { PostgresEventStore } from '@pushledger/event-store';
import { createTestDatabase } from '@pushledger/testing';
import { SegmentStore } from './segment-store';

describe('segment store (real PostgreSQL)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let store: PostgresEventStore;

  beforeAll(async () => {
    db = await createTestDatabase('segments');
    store = await PostgresEventStore.connect({ connectionString: db.url, poolSize: 4 });
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('a create given the same id again answers the segment it made, and stores one version', async () => {
    const segments = new SegmentStore(store);
    const first = await segments.create('app_segstore', { name: 'a', rules: { trait: 'plan', op: 'exists' } }, new Date('2025-01-01T00:00:00Z'), 'seg_same');
    const again = await segments.create('app_segstore', { name: 'b', rules: { trait: 'city', op: 'exists' } }, new Date('2025-01-02T00:00:00Z'), 'seg_same');
    expect(again).toEqual(first);
    expect((await store.readStream('segment-app_segstore-seg_same')).length).toBe(1);
  });

  it('lists the latest version of each of the app’s segments, and nothing of another app', async () => {
    const segments = new SegmentStore(store);
    const one = await segments.create('app_seglist', { name: 'one', rules: { trait: 'plan', op: 'exists' } }, new Date('2025-01-01T00:00:00Z'));
    const two = await segments.create('app_seglist', { name: 'two', rules: { eligibleDevice: true } }, new Date('2025-01-02T00:00:00Z'));
    const oneV2 = await segments.update('app_seglist', one.id, { rules: { trait: 'plan', op: 'eq', value: 'pro' } }, new Date('2025-01-03T00:00:00Z'));
    await segments.create('app_seglistother', { name: 'other', rules: { eligibleDevice: true } });
    expect(await segments.list('app_seglist')).toEqual([oneV2, two]);
    expect(oneV2).toMatchObject({ version: 2, name: 'one', createdAt: '2025-01-01T00:00:00.000Z', updatedAt: '2025-01-03T00:00:00.000Z' });
  });
});
