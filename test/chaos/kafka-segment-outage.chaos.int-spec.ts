/**
 * Kafka away for 120 s (in every form: this is the outage the old in-memory retries lost messages to)
 * while Segment messages arrive over HTTP and are being applied. Clients retry what is refused, with the
 * same messageId, as Segment's libraries do. Every message answered 200 must be applied exactly once
 * afterwards and the user's traits must be those of its last identify, though an identify that links a device
 * travels on the device's partition and the next ones on the user's; nothing may sit in a dead-letter topic,
 * and no process may exit.
 */
import * as path from 'path';
import { deadLetterTopics, deviceStream, userStream } from '@pushledger/contracts';
import type { StoredEvent } from '@pushledger/event-store';
import { FcmSimulator } from '@pushledger/fcm';
import { DeadLetters } from '@pushledger/kafka';
import { maskToken } from '@pushledger/observability';
import { createPrivateEventStore } from '@pushledger/privacy';
import { repoRoot, testConfig, testKafka, waitFor, type Stack, type TestApp } from '@pushledger/testing';
import { ChaosHarness, CHAOS_FULL, startChaosStack } from './chaos-harness';
import { startPrivateEngines, type PrivateEngines } from './private-engines';

const DOWN_MS = 120_000;
const DEVICES = CHAOS_FULL ? 120 : 30;
const CONCURRENCY = 4;
/** Each device: an anonymous `register push`, an identify naming its user, then two trait updates. */
const IDENTIFIES = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sent {
  path: string;
  body: Record<string, unknown>;
  answeredAt?: number;
  attempts: number;
  refused: Record<string, number>;
}

describe(`chaos: Kafka down ${DOWN_MS / 1000} s while Segment messages are applied (${CHAOS_FULL ? 'full' : 'shortened'})`, () => {
  let engines: PrivateEngines;
  let sim: FcmSimulator;
  let stack: Stack;
  let app: TestApp;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    engines = await startPrivateEngines();
    for (const [k, v] of Object.entries(engines.env)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    sim = await FcmSimulator.start({ certDir: path.join(repoRoot, '.data/fcm-sim-test') });
    ({ stack, app } = await startChaosStack(sim));
  }, 240_000);
  afterAll(async () => {
    await stack?.stop().catch(() => undefined);
    await sim?.stop();
    await engines?.destroy();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }, 120_000);

  it('every message answered 200 is applied once afterwards; no dead letters, no process exits, refusals are 503s', async () => {
    const h = new ChaosHarness('kafka-segment-outage', stack, app);
    const run = Date.now().toString(36);
    const sent: Sent[] = [];
    let down: { from: number; to?: number } | undefined;

    async function deliver(p: string, body: Record<string, unknown>): Promise<void> {
      const msg: Sent = { path: p, body, attempts: 0, refused: {} };
      sent.push(msg);
      for (;;) {
        msg.attempts++;
        let status = 'network';
        try {
          const res = await fetch(`${stack.url}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, writeKey: app.writeKey }), signal: AbortSignal.timeout(30_000) });
          if (res.status === 200) {
            msg.answeredAt = Date.now();
            return;
          }
          status = String(res.status);
        } catch {
          // a timeout or a dropped connection: retried with the same messageId
        }
        msg.refused[status] = (msg.refused[status] ?? 0) + 1;
        await sleep(500);
      }
    }

    const ids = Array.from({ length: DEVICES }, (_, i) => ({ deviceId: `seg-${run}-${i}`, userId: `u-${run}-${i}`, token: `seg-${run}-${i}:APA91b${'t'.repeat(40)}` }));
    let next = 0;
    async function worker(): Promise<void> {
      while (next < ids.length) {
        const { deviceId, userId, token } = ids[next++];
        await deliver('/v1/track', { type: 'track', event: 'register push', userId: deviceId, messageId: `${deviceId}-reg`, properties: { deviceId, token, deviceType: 'Android' } });
        for (let step = 1; step <= IDENTIFIES; step++) {
          await deliver('/v1/identify', { type: 'identify', userId, ...(step === 1 ? { anonymousId: deviceId } : {}), messageId: `${deviceId}-id${step}`, traits: { step, plan: `plan-${step}` } });
        }
        // Spread the load so that it runs before, through and after the outage.
        await sleep(300);
      }
    }

    h.startSupervisor();
    try {
      const load = Promise.all(Array.from({ length: CONCURRENCY }, worker));
      const total = DEVICES * (1 + IDENTIFIES);
      await waitFor(async () => sent.filter((m) => m.answeredAt).length >= Math.ceil(total / 5), { what: 'a fifth of the messages answered before the outage', timeoutMs: 120_000, intervalMs: 200 });
      down = { from: Date.now() };
      await engines.crash('kafka');
      await sleep(DOWN_MS);
      await engines.up();
      down.to = Date.now();
      await load;

      // The outage fell in the middle of the load: answers before it, refusals during it, answers after it.
      const before = sent.filter((m) => m.answeredAt! < down!.from).length;
      const after = sent.filter((m) => m.answeredAt! > down!.to!).length;
      const refusals = sent.reduce<Record<string, number>>((acc, m) => {
        for (const [k, n] of Object.entries(m.refused)) acc[k] = (acc[k] ?? 0) + n;
        return acc;
      }, {});
      process.stderr.write(`kafka-segment-outage: ${JSON.stringify({ messages: sent.length, before, after, refusals, attempts: sent.reduce((n, m) => n + m.attempts, 0) })}\n`);
      expect(sent).toHaveLength(total);
      expect(sent.every((m) => m.answeredAt)).toBe(true);
      expect(before).toBeGreaterThan(0);
      expect(after).toBeGreaterThan(0);
      expect(refusals['503'] ?? 0).toBeGreaterThan(0);
      expect(Object.keys(refusals).filter((s) => s.startsWith('5') && s !== '503')).toEqual([]);

      // Applied, from the store: one registration and one link per device, at most one traits fact per identify.
      const store = await createPrivateEventStore(testConfig({ POSTGRES_URL: stack.env.POSTGRES_URL }), { poolSize: 2 });
      const problems: string[] = [];
      try {
        const count = (events: StoredEvent[], type: string) => events.filter((e) => e.type === type).length;
        await waitFor(
          async () => {
            problems.length = 0;
            for (const { deviceId, userId } of ids) {
              const device = await store.readStream(deviceStream(app.id, deviceId));
              const user = await store.readStream(userStream(app.id, userId));
              if (count(device, 'TokenRegistered') !== 1) problems.push(`${deviceId}: ${count(device, 'TokenRegistered')} TokenRegistered`);
              if (count(user, 'UserDeviceLinked') !== 1) problems.push(`${userId}: ${count(user, 'UserDeviceLinked')} UserDeviceLinked`);
              // Each identify changes both traits; one applied after a later one (another partition, a late retry) changes nothing.
              const traits = count(user, 'UserTraitsUpdated');
              if (traits < 1 || traits > IDENTIFIES) problems.push(`${userId}: ${traits} UserTraitsUpdated for ${IDENTIFIES} identifies`);
            }
            return problems.length === 0;
          },
          { what: 'every acknowledged Segment message applied', timeoutMs: 180_000, intervalMs: 2000 },
        ).catch(() => undefined);
      } finally {
        await store.close();
      }
      expect(problems.slice(0, 20)).toEqual([]);

      // The read side shows the last of each: the device's user and token, the user's traits.
      for (const { deviceId, userId, token } of ids) {
        const device = await fetch(`${stack.url}/v1/devices/${deviceId}`, { headers: { authorization: `Bearer ${app.serverKey}` } });
        expect(await device.json()).toMatchObject({ id: deviceId, userId, token: maskToken(token), status: 'active' });
        const user = await fetch(`${stack.url}/v1/users/${userId}`, { headers: { authorization: `Bearer ${app.serverKey}` } });
        expect(await user.json()).toMatchObject({ id: userId, traits: { step: IDENTIFIES, plan: `plan-${IDENTIFIES}` } });
      }

      const depths = await new DeadLetters(testKafka(undefined, stack.env), stack.suffix).depths(deadLetterTopics(stack.suffix));
      expect(Object.entries(depths).filter(([, d]) => d > 0)).toEqual([]);
      expect(Object.keys(depths).length).toBeGreaterThan(0);
      expect(h.supervisorRestarts).toBe(0);
    } finally {
      await h.close();
    }
  }, 900_000);
});
