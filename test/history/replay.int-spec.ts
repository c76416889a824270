import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as readline from 'readline';
import { PostgresEventStore, type NewEvent, type StoredEvent } from '@pushledger/event-store';
import { createTestDatabase, createTestTopics, testKafka, uniqueName, waitFor } from '@pushledger/testing';
import { lastPositionOf, runReplayCli } from './replay-cli';

const APP = 'app_replaya';
const OTHER = 'app_replayb';
const STREAMS = 1000;
const PER_STREAM = 100;
const TYPES = ['TokenRegistered', 'DeviceSeen', 'PushSent', 'DeviceAttributesUpdated', 'PushBounced', 'TokenExpired', 'TokenRevived'];
const T0 = Date.parse('2025-01-01T00:00:00Z');
const HOUR = 3_600_000;

function streamEvents(appId: string, s: number, n: number): NewEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const occurredAt = new Date(T0 + (s % 97) * HOUR + i * 20 * HOUR).toISOString();
    const type = i === 0 ? 'TokenRegistered' : TYPES[1 + ((s * 31 + i * 7) % (TYPES.length - 1))];
    return {
      eventId: randomUUID(),
      type,
      data: { appId, deviceId: `d${s}`, at: occurredAt, n: i, note: i % 13 === 0 ? 'with "quotes", commas\nand a newline' : 'plain' },
      metadata: { appId, correlationId: randomUUID(), causationId: randomUUID(), occurredAt, schemaVersion: 1 },
    };
  });
}

/** A stored event as replay must print it, built here independently of the tool. */
const line = (e: StoredEvent) =>
  JSON.stringify({ eventId: e.eventId, type: e.type, stream: e.stream, position: e.position.toString(), revision: e.streamRevision.toString(), occurredAt: e.metadata.occurredAt, data: e.data });

async function compareFile(file: string, expected: AsyncIterable<string>): Promise<{ lines: number; mismatches: number; first?: string }> {
  const it = expected[Symbol.asyncIterator]();
  let lines = 0;
  let mismatches = 0;
  let first: string | undefined;
  for await (const got of readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity })) {
    const want = await it.next();
    lines++;
    if (want.done || want.value !== got) {
      mismatches++;
      first ??= `line ${lines}: got ${got.slice(0, 200)} want ${want.done ? '(end)' : want.value.slice(0, 200)}`;
    }
  }
  if (!(await it.next()).done) {
    mismatches++;
    first ??= `file ends after ${lines} lines, more expected`;
  }
  return { lines, mismatches, first };
}

async function* selected(store: PostgresEventStore, keep: (e: StoredEvent) => boolean, after?: bigint): AsyncIterable<string> {
  for await (const e of store.readAll({ afterPosition: after })) if (keep(e)) yield line(e);
}

describe('replay CLI over a private PostgreSQL event store', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let store: PostgresEventStore;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase('replay');
    env = { POSTGRES_URL: db.url, EVENT_STORE: 'postgres' };
    store = await PostgresEventStore.connect({ connectionString: db.url, poolSize: 4 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replay-'));
    for (let s = 0; s < STREAMS; s++) {
      await store.appendToStream(`device-${APP}-d${s}`, streamEvents(APP, s, PER_STREAM), { expectedRevision: 'no_stream' });
      if (s % 20 === 0) await store.appendToStream(`device-${OTHER}-d${s}`, streamEvents(OTHER, s, 40), { expectedRevision: 'no_stream' });
    }
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('replays 100,000 events of an app to NDJSON exactly as readAll returns them', async () => {
    const file = path.join(dir, 'all.ndjson');
    const run = await runReplayCli(['--app', APP, '--out', file], env);
    expect(run.code).toBe(0);
    const result = await compareFile(file, selected(store, (e) => e.metadata.appId === APP));
    expect(result).toEqual({ lines: STREAMS * PER_STREAM, mismatches: 0, first: undefined });
    const last = (await store.readAll({ direction: 'backwards', maxCount: 1 })[Symbol.asyncIterator]().next()).value as StoredEvent;
    expect(lastPositionOf(run.stderr)).toBe(last.position.toString());
  });

  it('a filtered replay (types, time range) returns exactly the selected events, resumable after a position', async () => {
    const from = '2025-01-10T00:00:00Z';
    const to = '2025-02-01T00:00:00Z';
    const types = ['DeviceSeen', 'TokenExpired'];
    const keep = (e: StoredEvent) => e.metadata.appId === APP && types.includes(e.type) && Date.parse(e.metadata.occurredAt) >= Date.parse(from) && Date.parse(e.metadata.occurredAt) < Date.parse(to);
    const run = await runReplayCli(['--app', APP, '--types', types.join(','), '--from', from, '--to', to], env);
    expect(run.code).toBe(0);
    const file = path.join(dir, 'filtered.ndjson');
    fs.writeFileSync(file, run.stdout);
    const result = await compareFile(file, selected(store, keep));
    expect(result.mismatches).toBe(0);
    expect(result.lines).toBeGreaterThan(1000);

    // Resume from the middle: the rest, and nothing else.
    const lines = run.stdout.trim().split('\n');
    const mid = JSON.parse(lines[Math.floor(lines.length / 2)]).position as string;
    const rest = path.join(dir, 'rest.ndjson');
    const resumed = await runReplayCli(['--app', APP, '--types', types.join(','), '--from', from, '--to', to, '--after', mid, '--out', rest], env);
    expect(resumed.code).toBe(0);
    expect((await compareFile(rest, selected(store, keep, BigInt(mid)))).mismatches).toBe(0);

    const one = await runReplayCli(['--app', APP, '--stream', `device-${APP}-d7`, '--format', 'csv'], env);
    expect(one.code).toBe(0);
    const rows = one.stdout.trim().split('\r\n');
    expect(rows[0]).toBe('eventId,type,stream,position,revision,occurredAt,data');
    expect(rows.filter((r) => r.includes(`device-${APP}-d7,`))).toHaveLength(PER_STREAM);
    expect(await runReplayCli(['--app', APP, '--stream', `device-${OTHER}-d0`], env)).toMatchObject({ code: 0, stdout: '' });
  });

  it('republishes a selection to a Kafka topic keyed by stream; consumed back it equals the file', async () => {
    const kafka = testKafka();
    const topics = await createTestTopics(kafka, ['replay.out'], 4);
    const [topic] = topics.topics;
    const args = ['--app', APP, '--types', 'TokenExpired,TokenRevived'];
    const file = path.join(dir, 'topic.ndjson');
    expect((await runReplayCli([...args, '--out', file], env)).code).toBe(0);
    const expected = fs.readFileSync(file, 'utf8').trim().split('\n');
    expect((await runReplayCli([...args, '--topic', topic], env)).code).toBe(0);

    const consumer = kafka.consumer({ groupId: uniqueName('replay-check') });
    const got: { key: string; value: string }[] = [];
    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void got.push({ key: message.key!.toString(), value: message.value!.toString() }) });
      await waitFor(async () => got.length >= expected.length, { timeoutMs: 60000, what: 'the republished events' });
    } finally {
      await consumer.disconnect();
      await topics.drop();
    }
    expect(got).toHaveLength(expected.length);
    for (const m of got) expect(m.key).toBe(JSON.parse(m.value).stream);
    const byPosition = (a: string, b: string) => Number(JSON.parse(a).position) - Number(JSON.parse(b).position);
    expect(got.map((m) => m.value).sort(byPosition)).toEqual(expected);
  });
});
