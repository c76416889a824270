/**
 * The one behavioural contract every EventStore adapter passes (in-memory in a unit spec, PostgreSQL and
 * EventStoreDB in integration specs). Tests only touch streams under their own random prefix and read
 * the global log from the head they found, so a shared server with other data is fine.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { randomBytes, randomUUID } from 'node:crypto';
import { EventStoreError, WrongExpectedVersionError } from './event-store.errors';
import type { AppendOptions, AppendResult, EventStore, NewEvent, StoredEvent } from './event-store.port';

export interface HoldOpen {
  ms: number;
  rollback?: boolean;
}

export interface EventStoreContractHarness {
  create(): Promise<EventStore>;
  /** An append whose transaction is kept open `hold.ms` after taking its positions (PostgreSQL). */
  appendHeldOpen?: (store: EventStore, stream: string, events: NewEvent[], options: AppendOptions, hold: HoldOpen) => Promise<AppendResult>;
  stress?: { writers?: number; eventsPerWriter?: number; repetitions?: number; streams?: number };
  /** False where an event id is only unique within its stream (EventStoreDB). */
  globallyUniqueEventIds?: boolean;
}

const app = () => `app_${randomBytes(5).toString('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function newEvent(type = 'DeviceRegistered', data: unknown = { n: 1 }, appId = 'app_contract'): NewEvent {
  const id = randomUUID();
  return {
    eventId: id,
    type,
    data,
    metadata: { appId, correlationId: randomUUID(), causationId: randomUUID(), occurredAt: new Date().toISOString(), schemaVersion: 1 },
  };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function headPosition(store: EventStore): Promise<bigint> {
  for await (const e of store.readAll({ direction: 'backwards', maxCount: 1 })) return e.position;
  return 0n;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

export function eventStoreContract(name: string, harness: EventStoreContractHarness): void {
  describe(`EventStore contract: ${name}`, () => {
    jest.setTimeout(90_000);
    let store: EventStore;
    beforeAll(async () => {
      store = await harness.create();
    });
    afterAll(async () => {
      await store?.close();
    });

    describe('append and read a stream', () => {
      it('appends to a new stream and reads the full envelope back', async () => {
        const appId = app();
        const stream = `device-${appId}-d1`;
        const events = [newEvent('DeviceRegistered', { token: 'abc', platform: 'ios' }, appId), newEvent('TokenRotated', { token: 'def' }, appId), newEvent('DeviceRetired', { reason: null }, appId)];
        const result = await store.appendToStream(stream, events, { expectedRevision: 'no_stream' });
        expect(result.nextExpectedRevision).toBe(2n);
        expect(typeof result.position).toBe('bigint');

        const read = await store.readStream(stream);
        expect(read.map((e) => e.streamRevision)).toEqual([0n, 1n, 2n]);
        read.forEach((e, i) => {
          expect(e.eventId).toBe(events[i].eventId);
          expect(e.type).toBe(events[i].type);
          expect(e.data).toEqual(events[i].data);
          expect(e.metadata).toEqual(events[i].metadata);
          expect(e.stream).toBe(stream);
        });
        expect(read[0].position < read[1].position && read[1].position < read[2].position).toBe(true);
        // PostgreSQL and in-memory report the last event's position; EventStoreDB its commit's.
        expect(result.position >= read[0].position && result.position <= read[2].position).toBe(true);
      });

      it('reads a missing stream as empty', async () => {
        await expect(store.readStream(`device-${app()}-missing`)).resolves.toEqual([]);
        await expect(store.readStream(`device-${app()}-missing`, { direction: 'backwards' })).resolves.toEqual([]);
      });

      it('reads from a revision, backwards, and up to maxCount', async () => {
        const stream = `user-${app()}-u1`;
        await store.appendToStream(stream, Array.from({ length: 10 }, (_, i) => newEvent('UserSeen', { i })), { expectedRevision: 'no_stream' });
        const revs = (es: StoredEvent[]) => es.map((e) => Number(e.streamRevision));
        expect(revs(await store.readStream(stream, { fromRevision: 7n }))).toEqual([7, 8, 9]);
        expect(revs(await store.readStream(stream, { maxCount: 2 }))).toEqual([0, 1]);
        expect(revs(await store.readStream(stream, { direction: 'backwards' }))).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
        expect(revs(await store.readStream(stream, { direction: 'backwards', fromRevision: 3n, maxCount: 2 }))).toEqual([3, 2]);
        expect(revs(await store.readStream(stream, { fromRevision: 10n }))).toEqual([]);
      });

      it('keeps JSON data of every shape', async () => {
        const stream = `device-${app()}-json`;
        const data = { s: 'ünïcødé "quoted" \\ \n \u2028', n: 1.5, neg: -3, b: false, nil: null, arr: [1, 'two', { three: 3 }], nested: { deep: { deeper: [] } } };
        await store.appendToStream(stream, [newEvent('Shaped', data)], { expectedRevision: 'any' });
        const [e] = await store.readStream(stream);
        expect(e.data).toEqual(data);
        // PostgreSQL's jsonb cannot hold U+0000, so no adapter accepts it.
        await expect(store.appendToStream(stream, [newEvent('Shaped', { s: 'a\u0000b' })], { expectedRevision: 'any' })).rejects.toBeInstanceOf(EventStoreError);
      });
    });

    describe('expected revision', () => {
      it('checks no_stream, stream_exists, exact revisions and any', async () => {
        const stream = `device-${app()}-ev`;
        const missing = await rejection(store.appendToStream(stream, [newEvent()], { expectedRevision: 'stream_exists' }));
        expect(missing).toBeInstanceOf(WrongExpectedVersionError);
        expect(missing).toMatchObject({ stream, expected: 'stream_exists', actual: 'no_stream' });
        const exactOnMissing = await rejection(store.appendToStream(stream, [newEvent()], { expectedRevision: 0n }));
        expect(exactOnMissing).toMatchObject({ stream, expected: 0n, actual: 'no_stream' });

        await store.appendToStream(stream, [newEvent(), newEvent()], { expectedRevision: 'no_stream' });
        const again = await rejection(store.appendToStream(stream, [newEvent()], { expectedRevision: 'no_stream' }));
        expect(again).toBeInstanceOf(WrongExpectedVersionError);
        expect(again).toMatchObject({ expected: 'no_stream', actual: 1n });
        const stale = await rejection(store.appendToStream(stream, [newEvent()], { expectedRevision: 0n }));
        expect(stale).toMatchObject({ expected: 0n, actual: 1n });

        await expect(store.appendToStream(stream, [newEvent()], { expectedRevision: 1n })).resolves.toMatchObject({ nextExpectedRevision: 2n });
        await expect(store.appendToStream(stream, [newEvent()], { expectedRevision: 'stream_exists' })).resolves.toMatchObject({ nextExpectedRevision: 3n });
        await expect(store.appendToStream(stream, [newEvent()], { expectedRevision: 'any' })).resolves.toMatchObject({ nextExpectedRevision: 4n });
        expect(await store.readStream(stream)).toHaveLength(5);
      });

      it('lets exactly one of 50 concurrent appends with the same expected revision win', async () => {
        const stream = `device-${app()}-race`;
        const first = await store.appendToStream(stream, [newEvent()], { expectedRevision: 'no_stream' });
        const attempts = await Promise.allSettled(
          Array.from({ length: 50 }, (_, i) => store.appendToStream(stream, [newEvent('Raced', { i }), newEvent('Raced', { i, second: true })], { expectedRevision: first.nextExpectedRevision })),
        );
        const won = attempts.filter((a): a is PromiseFulfilledResult<AppendResult> => a.status === 'fulfilled');
        const lost = attempts.filter((a): a is PromiseRejectedResult => a.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(won[0].value.nextExpectedRevision).toBe(first.nextExpectedRevision + 2n);
        expect(lost).toHaveLength(49);
        for (const l of lost) {
          expect(l.reason).toBeInstanceOf(WrongExpectedVersionError);
          expect(l.reason).toMatchObject({ stream, expected: first.nextExpectedRevision, actual: won[0].value.nextExpectedRevision });
        }
        const read = await store.readStream(stream);
        expect(read.map((e) => e.streamRevision)).toEqual([0n, 1n, 2n]);
      });
    });

    describe('idempotency by event id', () => {
      it('stores a re-appended batch once and reports success', async () => {
        const stream = `device-${app()}-idem`;
        const batch = [newEvent('A'), newEvent('B'), newEvent('C')];
        const original = await store.appendToStream(stream, batch, { expectedRevision: 'no_stream' });
        const retried = await store.appendToStream(stream, batch, { expectedRevision: 'no_stream' });
        expect(retried.nextExpectedRevision).toBe(original.nextExpectedRevision);
        await expect(store.appendToStream(stream, batch, { expectedRevision: 'any' })).resolves.toMatchObject({ nextExpectedRevision: 2n });

        // Once the stream has moved on, a late retry at the original place is still recognised.
        const next = [newEvent('D')];
        await store.appendToStream(stream, next, { expectedRevision: 2n });
        await store.appendToStream(stream, [newEvent('E')], { expectedRevision: 3n });
        await expect(store.appendToStream(stream, next, { expectedRevision: 2n })).resolves.toMatchObject({ nextExpectedRevision: 3n });

        const read = await store.readStream(stream);
        expect(read.map((e) => e.type)).toEqual(['A', 'B', 'C', 'D', 'E']);
        const ids = new Set(read.map((e) => e.eventId));
        expect(ids.size).toBe(5);
      });

      it('stores concurrent identical appends once', async () => {
        const stream = `token-${app()}-idem2`;
        const batch = [newEvent('TokenClaimed'), newEvent('TokenConfirmed')];
        const results = await Promise.allSettled(Array.from({ length: 10 }, () => store.appendToStream(stream, batch, { expectedRevision: 'any' })));
        expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
        expect(await store.readStream(stream)).toHaveLength(2);
      });

      it('rejects a partial overlap and an id stored in another stream, writing nothing', async () => {
        const stream = `device-${app()}-partial`;
        const [a, b, c] = [newEvent('A'), newEvent('B'), newEvent('C')];
        await store.appendToStream(stream, [a, b], { expectedRevision: 'no_stream' });
        const exact = await rejection(store.appendToStream(stream, [a, b, c], { expectedRevision: 'no_stream' }));
        expect(exact).toBeInstanceOf(EventStoreError);
        const any = await rejection(store.appendToStream(stream, [b, c], { expectedRevision: 'any' }));
        expect(any).toBeInstanceOf(EventStoreError);
        expect((await store.readStream(stream)).map((e) => e.type)).toEqual(['A', 'B']);

        if (harness.globallyUniqueEventIds !== false) {
          const other = `device-${app()}-other`;
          const elsewhere = await rejection(store.appendToStream(other, [a], { expectedRevision: 'any' }));
          expect(elsewhere).toBeInstanceOf(EventStoreError);
          expect(await store.readStream(other)).toEqual([]);
        }
      });

      it('validates ids and names before writing', async () => {
        const stream = `device-${app()}-invalid`;
        await expect(store.appendToStream(stream, [{ ...newEvent(), eventId: 'not-a-uuid' }], { expectedRevision: 'any' })).rejects.toBeInstanceOf(EventStoreError);
        const e = newEvent();
        await expect(store.appendToStream(stream, [e, e], { expectedRevision: 'any' })).rejects.toBeInstanceOf(EventStoreError);
        await expect(store.appendToStream(stream, [newEvent('$system')], { expectedRevision: 'any' })).rejects.toBeInstanceOf(EventStoreError);
        expect(await store.readStream(stream)).toEqual([]);
      });
    });

    describe('multi-stream append', () => {
      it('appends to several streams at once, each at its own revision, and checks a stream it does not write', async () => {
        const a = app();
        const [device, token, user] = [`device-${a}-m1`, `token-${a}-m1`, `user-${a}-m1`];
        await store.appendToStream(token, [newEvent('TokenClaimed')], { expectedRevision: 'no_stream' });
        const result = await store.appendToStreams([
          { stream: device, events: [newEvent('TokenRegistered'), newEvent('Identified')], expectedRevision: 'no_stream' },
          { stream: token, events: [], expectedRevision: 0n },
          { stream: user, events: [newEvent('UserDeviceLinked')], expectedRevision: 'no_stream' },
        ]);
        expect(result.streams.map((r) => r.nextExpectedRevision)).toEqual([1n, 0n, 0n]);
        expect(result.streams[1].position).toBe(0n);
        expect(result.position).toBe(result.streams[0].position > result.streams[2].position ? result.streams[0].position : result.streams[2].position);
        expect((await store.readStream(device)).map((e) => e.type)).toEqual(['TokenRegistered', 'Identified']);
        expect((await store.readStream(user)).map((e) => e.type)).toEqual(['UserDeviceLinked']);
        const checkFailed = await rejection(store.appendToStreams([{ stream: token, events: [], expectedRevision: 'no_stream' }]));
        expect(checkFailed).toMatchObject({ stream: token, expected: 'no_stream', actual: 0n });
      });

      it('stores a retried multi-stream append once and reports success', async () => {
        const a = app();
        const appends = [
          { stream: `device-${a}-m2`, events: [newEvent('Identified')], expectedRevision: 'no_stream' as const },
          { stream: `user-${a}-m2`, events: [newEvent('UserDeviceLinked')], expectedRevision: 'no_stream' as const },
        ];
        const first = await store.appendToStreams(appends);
        const again = await store.appendToStreams(appends);
        expect(again.streams.map((r) => r.nextExpectedRevision)).toEqual(first.streams.map((r) => r.nextExpectedRevision));
        expect(await store.readStream(`device-${a}-m2`)).toHaveLength(1);
        expect(await store.readStream(`user-${a}-m2`)).toHaveLength(1);
      });

      it('writes nothing when any entry conflicts (atomic adapters)', async () => {
        if (!store.atomicMultiStream) return;
        const a = app();
        const [device, user, token] = [`device-${a}-m3`, `user-${a}-m3`, `token-${a}-m3`];
        await store.appendToStream(user, [newEvent('UserTraitsUpdated')], { expectedRevision: 'no_stream' });
        const conflict = await rejection(
          store.appendToStreams([
            { stream: device, events: [newEvent('Identified')], expectedRevision: 'no_stream' },
            { stream: user, events: [newEvent('UserDeviceLinked')], expectedRevision: 'no_stream' },
          ]),
        );
        expect(conflict).toBeInstanceOf(WrongExpectedVersionError);
        expect(conflict).toMatchObject({ stream: user, expected: 'no_stream', actual: 0n });
        const checkConflict = await rejection(
          store.appendToStreams([
            { stream: device, events: [newEvent('Identified')], expectedRevision: 'no_stream' },
            { stream: token, events: [], expectedRevision: 'stream_exists' },
          ]),
        );
        expect(checkConflict).toMatchObject({ stream: token, actual: 'no_stream' });
        expect(await store.readStream(device)).toEqual([]);
        expect(await store.readStream(user)).toHaveLength(1);
      });

      it('fails only the conflicting ones of many concurrent appends; the rest are stored once, in order per stream', async () => {
        const a = app();
        const shared = `user-${a}-m4`;
        await store.appendToStream(shared, [newEvent('UserTraitsUpdated')], { expectedRevision: 'no_stream' });
        // 40 writers on their own streams, and 20 racing for the shared stream's next revision alongside.
        const own = Array.from({ length: 40 }, (_, i) =>
          store.appendToStreams([{ stream: `device-${a}-m4-${i}`, events: [newEvent('TokenRegistered', { i }), newEvent('Identified', { i })], expectedRevision: 'no_stream' }]),
        );
        const racing = Array.from({ length: 20 }, (_, i) =>
          store.appendToStreams([
            { stream: `device-${a}-m4-r${i}`, events: [newEvent('Identified', { i })], expectedRevision: 'no_stream' },
            { stream: shared, events: [newEvent('UserDeviceLinked', { i })], expectedRevision: 0n },
          ]),
        );
        const ownResults = await Promise.all(own);
        const raced = await Promise.allSettled(racing);
        expect(ownResults.every((r) => r.streams[0].nextExpectedRevision === 1n)).toBe(true);
        const won = raced.filter((r) => r.status === 'fulfilled');
        expect(won).toHaveLength(1);
        for (const r of raced) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(WrongExpectedVersionError);
        const winner = raced.findIndex((r) => r.status === 'fulfilled');
        expect(await store.readStream(`device-${a}-m4-r${winner}`)).toHaveLength(1);
        if (store.atomicMultiStream) for (let i = 0; i < 20; i++) if (i !== winner) expect(await store.readStream(`device-${a}-m4-r${i}`)).toEqual([]);
        expect((await store.readStream(shared)).map((e) => e.type)).toEqual(['UserTraitsUpdated', 'UserDeviceLinked']);
        const positions = ownResults.map((r) => r.position);
        expect(new Set(positions.map(String)).size).toBe(40);
      });
    });

    describe('global log', () => {
      it('reads all streams as one ordered log, with filters and bounds', async () => {
        const appId = app();
        const head = await headPosition(store);
        const streams = [`device-${appId}-a`, `user-${appId}-b`, `token-${appId}-c`];
        const prefixes = streams.map((s) => s.slice(0, s.indexOf('-') + 1) + appId + '-');
        for (let round = 0; round < 4; round++) {
          for (const s of streams) await store.appendToStream(s, [newEvent(round % 2 ? 'Odd' : 'Even', { round }), newEvent('Tail', { round })], { expectedRevision: 'any' });
        }
        const mine = { streamPrefixes: prefixes };
        const all = await collect(store.readAll({ afterPosition: head, filter: mine }));
        expect(all).toHaveLength(24);
        for (let i = 1; i < all.length; i++) expect(all[i].position > all[i - 1].position).toBe(true);
        for (const s of streams) expect(all.filter((e) => e.stream === s).map((e) => Number(e.streamRevision))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);

        const devices = await collect(store.readAll({ afterPosition: head, filter: { streamPrefixes: [prefixes[0]] } }));
        expect(devices.map((e) => e.stream)).toEqual(Array(8).fill(streams[0]));
        const odd = await collect(store.readAll({ afterPosition: head, filter: { ...mine, eventTypes: ['Odd'] } }));
        expect(odd.map((e) => e.type)).toEqual(Array(6).fill('Odd'));
        const both = await collect(store.readAll({ afterPosition: head, filter: { streamPrefixes: [prefixes[1]], eventTypes: ['Even', 'Odd'] } }));
        expect(both.map((e) => [e.stream, e.type])).toEqual([0, 1, 2, 3].map((r) => [streams[1], r % 2 ? 'Odd' : 'Even']));

        const fromFifth = await collect(store.readAll({ fromPosition: all[4].position, filter: mine, maxCount: 3 }));
        expect(fromFifth.map((e) => e.eventId)).toEqual(all.slice(4, 7).map((e) => e.eventId));
        const afterFifth = await collect(store.readAll({ afterPosition: all[4].position, filter: mine, maxCount: 3 }));
        expect(afterFifth.map((e) => e.eventId)).toEqual(all.slice(5, 8).map((e) => e.eventId));
        const backwards = await collect(store.readAll({ direction: 'backwards', fromPosition: all[23].position, filter: mine, maxCount: 5 }));
        expect(backwards.map((e) => e.eventId)).toEqual(all.slice(19, 24).reverse().map((e) => e.eventId));
      });
    });

    describe('subscriptions', () => {
      it('catches up, goes live, stops, and resumes strictly after a checkpoint', async () => {
        const appId = app();
        const filter = { streamPrefixes: [`device-${appId}-`] };
        const head = await headPosition(store);
        const stream = `device-${appId}-sub`;
        await store.appendToStream(stream, [newEvent('E', { i: 0 }), newEvent('E', { i: 1 })], { expectedRevision: 'no_stream' });

        const seen: StoredEvent[] = [];
        let caughtUp = false;
        const sub = store.subscribeToAll({ fromCheckpoint: head, filter, onEvent: (e) => void seen.push(e), onCaughtUp: () => (caughtUp = true) });
        await waitFor('catch-up', () => seen.length === 2 && caughtUp);
        await store.appendToStream(stream, [newEvent('E', { i: 2 })], { expectedRevision: 1n });
        await store.appendToStream(`device-${appId}-sub2`, [newEvent('E', { i: 3 })], { expectedRevision: 'no_stream' });
        await waitFor('live events', () => seen.length === 4);
        await sub.stop();
        await expect(sub.done).resolves.toBeUndefined();

        await store.appendToStream(stream, [newEvent('E', { i: 4 }), newEvent('E', { i: 5 })], { expectedRevision: 2n });
        await sleep(100);
        expect(seen.map((e) => (e.data as { i: number }).i)).toEqual([0, 1, 2, 3]);

        const batches: StoredEvent[][] = [];
        const resumed = store.subscribeToAll({ fromCheckpoint: seen[3].position, filter, onBatch: (b) => void batches.push(b) });
        await waitFor('resumed events', () => batches.flat().length >= 2);
        await sleep(100);
        await resumed.stop();
        expect(batches.every((b) => b.length > 0)).toBe(true);
        expect(batches.flat().map((e) => (e.data as { i: number }).i)).toEqual([4, 5]);
      });

      it('ends with onError when a handler throws', async () => {
        const appId = app();
        const head = await headPosition(store);
        await store.appendToStream(`user-${appId}-boom`, [newEvent()], { expectedRevision: 'any' });
        let reported: Error | undefined;
        const sub = store.subscribeToAll({
          fromCheckpoint: head,
          filter: { streamPrefixes: [`user-${appId}-`] },
          onEvent: () => {
            throw new Error('handler exploded');
          },
          onError: (err) => (reported = err),
        });
        await expect(sub.done).rejects.toThrow('handler exploded');
        expect(reported?.message).toBe('handler exploded');
        await sub.stop();
      });
    });

    describe('checkpoints', () => {
      it('loads nothing for a new name, then the last saved position', async () => {
        const name = `contract-${randomBytes(4).toString('hex')}`;
        await expect(store.checkpoints.load(name)).resolves.toBeUndefined();
        await store.checkpoints.save(name, 41n);
        await store.checkpoints.save(name, 9_007_199_254_740_993n);
        await expect(store.checkpoints.load(name)).resolves.toBe(9_007_199_254_740_993n);
      });
    });

    describe('concurrent writers and a live subscriber', () => {
      const writers = harness.stress?.writers ?? 8;
      const perWriter = harness.stress?.eventsPerWriter ?? 2000;
      const reps = harness.stress?.repetitions ?? 5;
      const streamCount = harness.stress?.streams ?? 64;

      for (let rep = 1; rep <= reps; rep++) {
        it(`delivers every committed event exactly once, in order (${writers} writers x ${perWriter} events, run ${rep}/${reps})`, async () => {
          const appId = app();
          const prefix = `device-${appId}-`;
          const head = await headPosition(store);
          const received: StoredEvent[] = [];
          const sub = store.subscribeToAll({ fromCheckpoint: head, filter: { streamPrefixes: [prefix] }, onEvent: (e) => void received.push(e) });

          const committed = new Map<string, { stream: string; revision: bigint }>();
          const known = new Map<string, bigint>();
          let held = 0;
          let rolledBack = 0;
          const writer = async (w: number) => {
            let written = 0;
            for (let attempt = 1; written < perWriter; attempt++) {
              const stream = `${prefix}s${Math.floor(Math.random() * streamCount)}`;
              const n = Math.min(1 + Math.floor(Math.random() * 8), perWriter - written);
              const events = Array.from({ length: n }, (_, i) => newEvent('Stressed', { w, i: written + i }, appId));
              const rev = known.get(stream);
              const options: AppendOptions = { expectedRevision: rev === undefined ? 'no_stream' : rev };
              const hold = harness.appendHeldOpen && attempt % 250 === 17 * (w + 1) % 250 ? { ms: 20 + Math.floor(Math.random() * 80), rollback: Math.random() < 0.3 } : undefined;
              try {
                const result = hold ? await harness.appendHeldOpen!(store, stream, events, options, hold) : await store.appendToStream(stream, events, options);
                if (hold) held++;
                events.forEach((e, i) => committed.set(e.eventId, { stream, revision: result.nextExpectedRevision - BigInt(n - 1 - i) }));
                known.set(stream, result.nextExpectedRevision);
                written += n;
              } catch (err) {
                if (err instanceof WrongExpectedVersionError) {
                  if (err.actual === 'no_stream') known.delete(stream);
                  else known.set(stream, err.actual);
                } else if (hold?.rollback) {
                  rolledBack++;
                } else {
                  throw err;
                }
              }
            }
          };
          await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
          await waitFor(`subscriber to receive ${committed.size} events (has ${received.length})`, () => received.length >= committed.size, 30_000);
          await sleep(150);
          await sub.stop();

          const ids = received.map((e) => e.eventId);
          expect(new Set(ids).size).toBe(ids.length);
          expect(ids.length).toBe(committed.size);
          expect(ids.every((id) => committed.has(id))).toBe(true);
          for (let i = 1; i < received.length; i++) if (!(received[i].position > received[i - 1].position)) throw new Error(`position went backwards at ${i}`);
          const nextRevision = new Map<string, bigint>();
          for (const e of received) {
            const expected = nextRevision.get(e.stream) ?? 0n;
            if (e.streamRevision !== expected) throw new Error(`${e.stream}: got revision ${e.streamRevision}, expected ${expected}`);
            expect(committed.get(e.eventId)).toEqual({ stream: e.stream, revision: e.streamRevision });
            nextRevision.set(e.stream, expected + 1n);
          }
          expect(committed.size).toBe(writers * perWriter);
          if (harness.appendHeldOpen) expect(held + rolledBack).toBeGreaterThan(0);
        });
      }
    });
  });
}
