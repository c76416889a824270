import { describe, expect, it } from '@jest/globals';
import { createEventStore } from './create-event-store';
import { EventStoreError } from './event-store.errors';

describe('createEventStore', () => {
  it('builds the EventStoreDB adapter without connecting (the client connects on first use)', async () => {
    const store = await createEventStore({ eventStore: { kind: 'eventstoredb', postgresUrl: 'unused', eventStoreDbConnectionString: 'esdb://127.0.0.1:1?tls=false' } });
    expect(store.kind).toBe('eventstoredb');
    await store.close();
  });

  it('refuses EventStoreDB without a connection string', async () => {
    await expect(createEventStore({ eventStore: { kind: 'eventstoredb', postgresUrl: 'unused' } })).rejects.toBeInstanceOf(EventStoreError);
  });
});
