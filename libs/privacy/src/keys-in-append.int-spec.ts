import { randomUUID } from 'crypto';
import { Client } from 'pg';
import { deviceStream, userStream } from '@pushledger/contracts';
import { WrongExpectedVersionError, type NewEvent } from '@pushledger/event-store';
import { createTestDatabase, testConfig } from '@pushledger/testing';
import { createPrivateEventStore } from './create-private-event-store';
import type { PrivacyEventStore } from './privacy-event-store';

const APP = 'app_keys';

const tokenFact = (deviceId: string, token: string): NewEvent => ({
  eventId: randomUUID(),
  type: 'DeviceRegistered',
  data: { appId: APP, deviceId, token, provider: 'fcm' },
  metadata: { appId: APP, commandId: randomUUID(), correlationId: randomUUID(), causationId: randomUUID(), occurredAt: new Date().toISOString(), schemaVersion: 1 },
});
const piiFact = (userId: string, email: string): NewEvent => ({
  eventId: randomUUID(),
  type: 'UserTraitsUpdated',
  data: { appId: APP, pii: { userId, traits: { email } } },
  metadata: { appId: APP, commandId: randomUUID(), correlationId: randomUUID(), causationId: randomUUID(), occurredAt: new Date().toISOString(), schemaVersion: 1 },
});

/** Two services' stores over one PostgreSQL database, as registration and identity run them. */
describe('privacy keys created and checked in the append transaction (PostgreSQL)', () => {
  let db: { url: string; drop(): Promise<void> };
  let a: PrivacyEventStore;
  let b: PrivacyEventStore;
  let sql: Client;

  beforeAll(async () => {
    db = await createTestDatabase('privkeys');
    a = await createPrivateEventStore(testConfig({ POSTGRES_URL: db.url }), { poolSize: 2 });
    b = await createPrivateEventStore(testConfig({ POSTGRES_URL: db.url }), { poolSize: 2 });
    sql = new Client({ connectionString: db.url });
    await sql.connect();
  });
  afterAll(async () => {
    await sql?.end();
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  const deviceKeys = async (deviceId: string) => (await sql.query(`SELECT kid::text FROM privacy.keys WHERE app_id = $1 AND kind = 'device' AND subject = $2`, [APP, deviceId])).rows;
  const tokenOf = async (store: PrivacyEventStore, deviceId: string) => {
    const events = await store.readStream(deviceStream(APP, deviceId));
    return (events[events.length - 1].data as { token: unknown }).token;
  };

  it('a new key is stored with the events sealed with it, and not at all when the append is rejected', async () => {
    await expect(a.appendToStream(deviceStream(APP, 'd0'), [tokenFact('d0', 'tok-d0-aaaaaaaaaaaaaaaaaaaa')], { expectedRevision: 4n })).rejects.toBeInstanceOf(WrongExpectedVersionError);
    expect(await deviceKeys('d0')).toEqual([]);

    await a.appendToStream(deviceStream(APP, 'd0'), [tokenFact('d0', 'tok-d0-aaaaaaaaaaaaaaaaaaaa')], { expectedRevision: 'no_stream' });
    expect(await deviceKeys('d0')).toHaveLength(1);
    expect(await tokenOf(b, 'd0')).toBe('tok-d0-aaaaaaaaaaaaaaaaaaaa');
  });

  it('a device key another process destroyed (erasure) is never sealed with again: the next token gets a new key and stays readable', async () => {
    await a.appendToStream(deviceStream(APP, 'd1'), [tokenFact('d1', 'tok-d1-first-bbbbbbbbbbbbbbb')], { expectedRevision: 'no_stream' });
    const [before] = await deviceKeys('d1');
    // b erases the user who owned d1; a still remembers d1's key.
    await b.shred(APP, 'someone', ['d1']);
    expect(await tokenOf(b, 'd1')).toBeNull();

    await a.appendToStream(deviceStream(APP, 'd1'), [tokenFact('d1', 'tok-d1-second-ccccccccccccc')], { expectedRevision: 0n });
    const after = await deviceKeys('d1');
    expect(after).toHaveLength(1);
    expect(after[0].kid).not.toBe(before.kid);
    expect(await tokenOf(b, 'd1')).toBe('tok-d1-second-ccccccccccccc');
    const events = await b.readStream(deviceStream(APP, 'd1'));
    expect((events[0].data as { token: unknown }).token).toBeNull();
  });

  it('pii for a user another process erased is unreadable, although this process remembered their key', async () => {
    await a.appendToStream(userStream(APP, 'carol'), [piiFact('carol', 'carol@example.com')], { expectedRevision: 'no_stream' });
    expect((await b.readStream(userStream(APP, 'carol')))[0].data).toMatchObject({ pii: { traits: { email: 'carol@example.com' } } });
    await b.shred(APP, 'carol', []);

    await a.appendToStream(userStream(APP, 'carol'), [piiFact('carol', 'carol-new@example.com')], { expectedRevision: 0n });
    const events = await b.readStream(userStream(APP, 'carol'));
    expect(events).toHaveLength(2);
    expect(events[1].data).toMatchObject({ pii: { erased: true } });
    const raw = (await sql.query(`SELECT data::text FROM event_store.events WHERE type = 'UserTraitsUpdated'`)).rows.map((r) => r.data).join();
    expect(raw).not.toContain('carol-new@example.com');
  });

  it('two processes creating the first key of one subject at once end with one key, both tokens readable', async () => {
    await Promise.all([
      a.appendToStream(deviceStream(APP, 'd2'), [tokenFact('d2', 'tok-d2-from-a-dddddddddddd')], { expectedRevision: 'any' }),
      b.appendToStream(deviceStream(APP, 'd2'), [tokenFact('d2', 'tok-d2-from-b-eeeeeeeeeeee')], { expectedRevision: 'any' }),
    ]);
    expect(await deviceKeys('d2')).toHaveLength(1);
    const tokens = (await a.readStream(deviceStream(APP, 'd2'))).map((e) => (e.data as { token: unknown }).token).sort();
    expect(tokens).toEqual(['tok-d2-from-a-dddddddddddd', 'tok-d2-from-b-eeeeeeeeeeee']);
  });
});
