/**
 * The relay as a real process against PostgreSQL and Kafka, SIGKILLed four times mid-stream: every lifecycle
 * event must reach Kafka at least once, nothing else does, and per key the first occurrences come in
 * revision order.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Topics } from '@pushledger/contracts';
import { createTestDatabase, createTestTopics, testKafka } from '@pushledger/testing';
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { newEvent } from './event-store.contract';
import type { StoredEvent } from './event-store.port';
import { PostgresEventStore } from './postgres-event-store';

const repoRoot = path.resolve(__dirname, '../../..');
const register = path.join(__dirname, 'testing/ts-register.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('relay process (PostgreSQL → Kafka)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let topics: Awaited<ReturnType<typeof createTestTopics>>;
  let store: PostgresEventStore;
  const kafka = testKafka();
  const children: ChildProcess[] = [];
  const logs: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('es_relay');
    topics = await createTestTopics(kafka, [Topics.deviceLifecycle], 3);
    store = await PostgresEventStore.connect({ connectionString: db.url, poolSize: 8 });
  }, 60_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await store?.close();
    await topics?.drop();
    await db?.drop();
  });

  const startRelay = (): ChildProcess & { output: () => string } => {
    const child = spawn(process.execPath, ['-r', register, 'tools/relay/main.ts', '--topic', topics.topics[0], '--checkpoint', 'relay-test'], {
      cwd: repoRoot,
      env: { ...process.env, EVENT_STORE: 'postgres', POSTGRES_URL: db.url, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let own = '';
    const keep = (b: Buffer) => {
      logs.push(b.toString());
      own += b.toString();
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    children.push(child);
    return Object.assign(child, { output: () => own });
  };
  const exited = (c: ChildProcess) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => c.once('exit', () => r())));
  const checkpoint = async () => (await store.checkpoints.load('relay-test')) ?? 0n;
  async function waitCheckpoint(cond: (p: bigint) => boolean, what: string, timeoutMs = 60_000): Promise<bigint> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const p = await checkpoint();
      if (cond(p)) return p;
      if (Date.now() > until) throw new Error(`timed out waiting for ${what} (checkpoint ${p}); relay output:\n${logs.join('').slice(-3000)}`);
      await sleep(5);
    }
  }

  it('loses nothing and keeps per-stream order across SIGKILLs', async () => {
    const app = `app_${Date.now().toString(36)}`;
    const streams = [...Array.from({ length: 10 }, (_, i) => `device-${app}-d${i}`), ...Array.from({ length: 5 }, (_, i) => `user-${app}-u${i}`), ...Array.from({ length: 5 }, (_, i) => `token-${app}-t${i}`)];
    const revisions = new Map<string, bigint>();
    const appended: { eventId: string; stream: string; revision: bigint }[] = [];
    let keepWriting = false;
    // At least `batches`, and on while `keepWriting`: a restarted relay always has something new to relay.
    const append = async (batches: number) => {
      for (let b = 0; b < batches || keepWriting; b++) {
        const stream = streams[Math.floor(Math.random() * streams.length)];
        const events = Array.from({ length: 1 + Math.floor(Math.random() * 5) }, () => newEvent('LifecycleFact', { b }, app));
        const rev = revisions.get(stream);
        const r = await store.appendToStream(stream, events, { expectedRevision: rev ?? 'no_stream' });
        revisions.set(stream, r.nextExpectedRevision);
        events.forEach((e, i) => appended.push({ eventId: e.eventId, stream, revision: r.nextExpectedRevision - BigInt(events.length - 1 - i) }));
        // Not a lifecycle category: must never be relayed.
        if (b % 50 === 0) await store.appendToStream(`app-${app}`, [newEvent('AppTouched')], { expectedRevision: 'any' });
      }
    };

    await append(600);
    const target = (await store.readStream(streams[0], { direction: 'backwards', maxCount: 1 }))[0];
    expect(target).toBeDefined();

    // Kill 1: during catch-up, as soon as a first batch is checkpointed.
    let relay = startRelay();
    await waitCheckpoint((p) => p > 0n, 'a first checkpoint');
    relay.kill('SIGKILL');
    await exited(relay);

    // Kills 2-4: while live appends are flowing, at random moments.
    keepWriting = true;
    const writer = append(900);
    for (let kill = 2; kill <= 4; kill++) {
      const before = await checkpoint();
      relay = startRelay();
      await waitCheckpoint((p) => p > before, `progress after restart ${kill - 1}`);
      await sleep(20 + Math.floor(Math.random() * 200));
      relay.kill('SIGKILL');
      await exited(relay);
    }
    keepWriting = false;
    await writer;

    relay = startRelay();
    let last: StoredEvent | undefined;
    for await (const e of store.readAll({ direction: 'backwards', maxCount: 1, filter: { streamPrefixes: ['device-', 'user-', 'token-'] } })) last = e;
    await waitCheckpoint((p) => p >= last!.position, 'the relay to catch up');
    const final = relay;
    const startedBy = Date.now() + 30_000;
    while (!final.output().includes('relay caught up') && Date.now() < startedBy) await sleep(20);
    relay.kill('SIGTERM');
    await exited(relay);
    expect(relay.exitCode).toBe(0);

    // Read the topic back.
    const expected = new Map(appended.map((a) => [a.eventId, a]));
    const firstSeen = new Map<string, { key: string; revision: bigint }>();
    const firstOrderByKey = new Map<string, bigint[]>();
    let total = 0;
    const foreign: string[] = [];
    const problems: string[] = [];
    const consumer = kafka.consumer({ groupId: `relay-test-${Date.now()}` });
    await consumer.connect();
    await consumer.subscribe({ topic: topics.topics[0], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        total++;
        const key = message.key!.toString();
        const value = JSON.parse(message.value!.toString());
        if (!expected.has(value.eventId)) foreign.push(value.stream);
        if (message.headers?.['event-id']?.toString() !== value.eventId || message.headers?.['event-type']?.toString() !== value.type || key !== value.stream) {
          problems.push(`bad key or headers on ${value.eventId}`);
        }
        if (firstSeen.has(value.eventId)) return;
        const revision = BigInt(value.streamRevision);
        firstSeen.set(value.eventId, { key, revision });
        firstOrderByKey.set(key, [...(firstOrderByKey.get(key) ?? []), revision]);
      },
    });
    const until = Date.now() + 60_000;
    while (firstSeen.size < expected.size && Date.now() < until) await sleep(100);
    await consumer.disconnect();

    const missing = [...expected.keys()].filter((id) => !firstSeen.has(id));
    expect(missing).toEqual([]);
    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);
    for (const [key, revs] of firstOrderByKey) {
      expect({ key, revs: revs.map(Number) }).toEqual({ key, revs: revs.map((_, i) => i) });
    }
    for (const [id, seen] of firstSeen) expect(seen).toEqual({ key: expected.get(id)!.stream, revision: expected.get(id)!.revision });
    // Duplicates are allowed (at least once); report how many the kills caused.
    process.stderr.write(`relay kill test: ${expected.size} events, ${total} messages (${total - expected.size} duplicates)\n`);
  }, 180_000);
});
