/**
 * The contract against every adapter reachable from here: PostgreSQL always (the integration setup brings
 * it up), EventStoreDB when EVENTSTORE_CONNECTION_STRING is set or a Docker engine can run one.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestDatabase } from '@pushledger/testing';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { eventStoreContract, newEvent } from './event-store.contract';
import type { EventStore } from './event-store.port';
import { Client } from 'pg';
import { PostgresEventStore, type PostgresAppendOptions } from './postgres-event-store';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase('es_contract');
});
afterAll(async () => {
  await db?.drop();
});

eventStoreContract('postgres', {
  create: () => PostgresEventStore.connect({ connectionString: db.url, poolSize: 24 }),
  appendHeldOpen: (store, stream, events, options, hold) =>
    store.appendToStream(stream, events, { ...options, __testHold: hold } as PostgresAppendOptions),
});

describe('PostgresEventStore specifics', () => {
  it('migrates idempotently, also when several processes start at once', async () => {
    const stores = await Promise.all(Array.from({ length: 4 }, () => PostgresEventStore.connect({ connectionString: db.url, poolSize: 2 })));
    await stores[0].migrate();
    const r = await stores[1].appendToStream(`device-app_mig-${Date.now()}`, [newEvent()], { expectedRevision: 'no_stream' });
    expect(r.nextExpectedRevision).toBe(0n);
    await Promise.all(stores.map((s) => s.close()));
  });

  it('wakes subscribers by NOTIFY, and falls back to polling while the LISTEN connection is gone', async () => {
    const slowPoll = await PostgresEventStore.connect({ connectionString: db.url, poolSize: 4, polling: { pollIntervalMs: 10_000 } });
    const fastPoll = await PostgresEventStore.connect({ connectionString: db.url, poolSize: 4, polling: { pollIntervalMs: 200 } });
    const admin = new Client({ connectionString: db.url });
    await admin.connect();
    try {
      const prefix = `device-app_wake${Date.now()}-`;
      const seenSlow: string[] = [];
      const seenFast: string[] = [];
      const waitFor = async (cond: () => boolean, ms: number) => {
        const until = Date.now() + ms;
        while (!cond() && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
        return cond();
      };
      const head = (await slowPoll.readAll({ direction: 'backwards', maxCount: 1 })[Symbol.asyncIterator]().next()).value?.position ?? 0n;
      const a = slowPoll.subscribeToAll({ fromCheckpoint: head, filter: { streamPrefixes: [prefix] }, onEvent: (e) => void seenSlow.push(e.type) });
      const b = fastPoll.subscribeToAll({ fromCheckpoint: head, filter: { streamPrefixes: [prefix] }, onEvent: (e) => void seenFast.push(e.type) });
      await new Promise((r) => setTimeout(r, 300));

      await slowPoll.appendToStream(`${prefix}1`, [newEvent('Notified')], { expectedRevision: 'no_stream' });
      // Well under the 10 s poll interval: only NOTIFY can explain it.
      expect(await waitFor(() => seenSlow.length === 1, 2000)).toBe(true);

      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'`);
      await fastPoll.appendToStream(`${prefix}2`, [newEvent('Polled')], { expectedRevision: 'no_stream' });
      expect(await waitFor(() => seenFast.includes('Polled'), 5000)).toBe(true);
      await a.stop();
      await b.stop();
    } finally {
      await admin.end();
      await slowPoll.close();
      await fastPoll.close();
    }
  });

  it('hands out gap-free positions even when a transaction that took positions rolls back', async () => {
    const store = await PostgresEventStore.connect({ connectionString: db.url, poolSize: 4 });
    try {
      const stream = `device-app_gap-${Date.now()}`;
      const a = await store.appendToStream(stream, [newEvent()], { expectedRevision: 'no_stream' });
      await expect(store.appendToStream(stream, [newEvent(), newEvent()], { expectedRevision: 0n, __testHold: { ms: 10, rollback: true } } as PostgresAppendOptions)).rejects.toThrow('rolled back');
      const b = await store.appendToStream(stream, [newEvent()], { expectedRevision: 0n });
      expect(b.position).toBe(a.position + 1n);
    } finally {
      await store.close();
    }
  });
});

type EsdbTarget = { connectionString: string } | { docker: true } | { skip: string };

function eventStoreDbTarget(): EsdbTarget {
  if (process.env.EVENTSTORE_CONNECTION_STRING) return { connectionString: process.env.EVENTSTORE_CONNECTION_STRING };
  try {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 5000, stdio: 'pipe' });
    return { docker: true };
  } catch {
    return { skip: 'EVENTSTORE_CONNECTION_STRING is not set and no Docker engine answers (docker info)' };
  }
}

const esdb = eventStoreDbTarget();
if ('skip' in esdb) {
  process.stderr.write(`[event-store] EventStoreDB contract skipped: ${esdb.skip}\n`);
} else {
  let container: string | undefined;
  const image = process.env.EVENTSTOREDB_IMAGE ?? 'eventstore/eventstore:24.10';

  async function connectEventStoreDb(): Promise<EventStore> {
    const { EventStoreDbEventStore } = await import('./eventstoredb-event-store');
    let connectionString: string;
    if ('connectionString' in esdb) {
      connectionString = esdb.connectionString;
    } else {
      container = `pushledger-esdb-${randomBytes(4).toString('hex')}`;
      execFileSync('docker', ['run', '-d', '--rm', '--name', container, '-p', '127.0.0.1::2113', '-e', 'EVENTSTORE_INSECURE=true', '-e', 'EVENTSTORE_MEM_DB=true', '-e', 'EVENTSTORE_RUN_PROJECTIONS=None', image], { stdio: 'pipe', timeout: 300_000 });
      const port = execFileSync('docker', ['port', container, '2113/tcp'], { encoding: 'utf8' }).trim().split(':').pop();
      connectionString = `esdb://127.0.0.1:${port}?tls=false`;
    }
    const deadline = Date.now() + 90_000;
    for (;;) {
      const store = new EventStoreDbEventStore(connectionString);
      try {
        await store.readStream(`device-app_probe-${Date.now()}`);
        return store;
      } catch (err) {
        await store.close().catch(() => undefined);
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  afterAll(() => {
    if (container) execFileSync('docker', ['rm', '-f', container], { stdio: 'pipe' });
  });
  eventStoreContract('eventstoredb', { create: connectEventStoreDb, globallyUniqueEventIds: false });
}
