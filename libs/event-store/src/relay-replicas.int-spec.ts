/**
 * Two relay processes over one PostgreSQL store and one topic: only the holder of the lock publishes (every
 * event relayed before the kill appears exactly once), and when the leader is SIGKILLed mid-stream the
 * standby takes over from the checkpoint: every lifecycle event reaches Kafka, first occurrences in
 * revision order per stream.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Topics } from '@pushledger/contracts';
import { createTestDatabase, createTestTopics, leaderPids, testKafka } from '@pushledger/testing';
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { newEvent } from './event-store.contract';
import { PostgresEventStore } from './postgres-event-store';

const repoRoot = path.resolve(__dirname, '../../..');
const register = path.join(__dirname, 'testing/ts-register.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CHECKPOINT = 'relay-replicas';

describe('relay replicas (PostgreSQL → Kafka, leader election)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let topics: Awaited<ReturnType<typeof createTestTopics>>;
  let store: PostgresEventStore;
  const kafka = testKafka();
  const children: ChildProcess[] = [];
  const logs: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('es_relay_replicas');
    topics = await createTestTopics(kafka, [Topics.deviceLifecycle], 3);
    store = await PostgresEventStore.connect({ connectionString: db.url, poolSize: 4 });
  }, 60_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await store?.close();
    await topics?.drop();
    await db?.drop();
  });

  const startRelay = (): ChildProcess => {
    const child = spawn(process.execPath, ['-r', register, 'tools/relay/main.ts', '--topic', topics.topics[0], '--checkpoint', CHECKPOINT], {
      cwd: repoRoot,
      env: { ...process.env, EVENT_STORE: 'postgres', POSTGRES_URL: db.url, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (b: Buffer) => logs.push(`[${child.pid}] ${b.toString()}`);
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    children.push(child);
    return child;
  };
  const checkpoint = async () => (await store.checkpoints.load(CHECKPOINT)) ?? 0n;
  async function until<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 90_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; relay output:\n${logs.join('').slice(-3000)}`);
      await sleep(20);
    }
  }

  it('one publishes at a time; the standby takes over a killed leader and nothing is lost', async () => {
    const app = `app_${Date.now().toString(36)}`;
    const streams = Array.from({ length: 12 }, (_, i) => `${['device', 'user', 'token'][i % 3]}-${app}-s${i}`);
    const revisions = new Map<string, bigint>();
    const appended: { eventId: string; stream: string; revision: bigint }[] = [];
    const append = async (batches: number, going = () => false) => {
      for (let b = 0; b < batches || going(); b++) {
        const stream = streams[Math.floor(Math.random() * streams.length)];
        const events = Array.from({ length: 1 + Math.floor(Math.random() * 4) }, () => newEvent('LifecycleFact', { b }, app));
        const r = await store.appendToStream(stream, events, { expectedRevision: revisions.get(stream) ?? 'no_stream' });
        revisions.set(stream, r.nextExpectedRevision);
        events.forEach((e, i) => appended.push({ eventId: e.eventId, stream, revision: r.nextExpectedRevision - BigInt(events.length - 1 - i)}));
      }
    };

    // Phase 1: both relays up, 400 batches; exactly one holds the lock and the checkpoint reaches the head.
    const relays = [startRelay(), startRelay()];
    await append(400);
    const head1 = (await store.readStream(appended[appended.length - 1].stream, { direction: 'backwards', maxCount: 1 }))[0].position;
    await until(async () => (await checkpoint()) >= head1, 'the checkpoint to reach the phase-1 head');
    const holders = await until(async () => {
      const h = await leaderPids(db.url, 'relay');
      return h.length ? h : undefined;
    }, 'a lock holder');
    expect(holders).toHaveLength(1);
    const leader = relays.find((r) => r.pid === holders[0])!;
    expect(leader).toBeDefined();
    const standby = relays.find((r) => r !== leader)!;
    const phase1 = new Set(appended.map((a) => a.eventId));

    // Phase 2: appends flowing; the leader SIGKILLed once it has relayed some of them.
    let writing = true;
    const writer = append(300, () => writing);
    const before = await checkpoint();
    await until(async () => (await checkpoint()) > before, 'the leader to relay phase-2 events');
    leader.kill('SIGKILL');
    await new Promise((r) => leader.once('exit', r));
    const next = await until(async () => {
      const h = await leaderPids(db.url, 'relay');
      return h.length ? h : undefined;
    }, 'the standby to take the lock');
    expect(next).toEqual([standby.pid]);
    const taken = await checkpoint();
    await until(async () => (await checkpoint()) > taken, 'the standby to relay');
    writing = false;
    await writer;
    const lastStream = appended[appended.length - 1].stream;
    const head2 = (await store.readStream(lastStream, { direction: 'backwards', maxCount: 1 }))[0].position;
    await until(async () => (await checkpoint()) >= head2, 'the standby to catch up');
    expect(standby.exitCode).toBeNull();

    // The topic: every event at least once, phase 1 exactly once, first occurrences in revision order.
    const expected = new Map(appended.map((a) => [a.eventId, a]));
    const counts = new Map<string, number>();
    const firstOrder = new Map<string, bigint[]>();
    const consumer = kafka.consumer({ groupId: `relay-replicas-${Date.now()}` });
    await consumer.connect();
    await consumer.subscribe({ topic: topics.topics[0], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const value = JSON.parse(message.value!.toString());
        const n = (counts.get(value.eventId) ?? 0) + 1;
        counts.set(value.eventId, n);
        if (n === 1) firstOrder.set(value.stream, [...(firstOrder.get(value.stream) ?? []), BigInt(value.streamRevision)]);
      },
    });
    await until(async () => [...expected.keys()].every((id) => counts.has(id)), 'every event on the topic', 60_000).catch(() => undefined);
    // A second standby publishing would re-send phase 1 whole: give such copies time to arrive before counting.
    await sleep(2000);
    await consumer.disconnect();

    expect([...expected.keys()].filter((id) => !counts.has(id))).toEqual([]);
    expect([...counts.keys()].filter((id) => !expected.has(id))).toEqual([]);
    expect([...phase1].filter((id) => counts.get(id) !== 1)).toEqual([]);
    for (const [stream, revs] of firstOrder) expect({ stream, revs: revs.map(Number) }).toEqual({ stream, revs: revs.map((_, i) => i) });
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    process.stderr.write(`relay replicas: ${expected.size} events, ${total} messages (${total - expected.size} re-sent after the kill)\n`);
  }, 240_000);
});
