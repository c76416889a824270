/**
 * Chaos: FCM misbehaves mid-load. For a window (30 s full, 6 s shortened) every second alternates between
 * 503 UNAVAILABLE answers and TCP resets of every open and new connection (a proxy between the delivery
 * service and the simulator). Every acknowledged push must still end sent, and no device may receive a
 * message more than twice.
 */
import { FcmSimulator } from '@pushledger/fcm';
import { repoRoot, type Stack, type TestApp } from '@pushledger/testing';
import * as path from 'path';
import { ChaosHarness, CHAOS_FULL, expectSound, LOAD, SHORTENED_TIMEOUT_MS, startChaosStack } from './chaos-harness';
import { FaultProxy } from './fault-proxy';

const WINDOW_MS = CHAOS_FULL ? 30_000 : 6_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(`chaos: FCM answering 503 and resetting connections (${CHAOS_FULL ? 'full' : 'shortened'})`, () => {
  let sim: FcmSimulator;
  let proxy: FaultProxy;
  let stack: Stack;
  let app: TestApp;

  beforeAll(async () => {
    sim = await FcmSimulator.start({ certDir: path.join(repoRoot, '.data/fcm-sim-test'), unavailableRetryAfterSeconds: 1 });
    proxy = await FaultProxy.start(Number(new URL(sim.url).port));
    // Enough attempts to outlast the window: 500 ms doubling, so 10 attempts span minutes.
    ({ stack, app } = await startChaosStack(sim, proxy.port, { DELIVERY_MAX_ATTEMPTS: '10', DELIVERY_RETRY_BASE_MS: '500' }));
  });
  afterAll(async () => {
    await stack?.stop();
    await proxy?.stop();
    await sim?.stop();
  });

  it('every acknowledged push is sent, none more than twice', async () => {
    const h = new ChaosHarness('fcm-faults', stack, app, sim);
    try {
      const planned = LOAD.devices * 6;
      h.startSupervisor();
      const load = h.runLoad('fcm', { ...LOAD, pushes: true });
      for (let i = 1; i <= LOAD.faults; i++) {
        await h.waitAcked(Math.floor((planned * i) / (LOAD.faults + 2)), LOAD.deadlineMs);
        await h.fault('fcm 503s and resets', async () => {
          const until = Date.now() + WINDOW_MS;
          try {
            for (let s = 0; Date.now() < until; s++) {
              const resets = s % 2 === 1;
              proxy.setMode(resets ? 'reset' : 'pass');
              sim.setDefault(resets ? 'success' : 'unavailable');
              await sleep(Math.min(1000, until - Date.now()));
            }
          } finally {
            proxy.setMode('pass');
            sim.setDefault('success');
          }
        });
      }
      await load;
      const report = await h.verify({ requireDelivery: true });
      h.record({ t: 'fcm', resets: proxy.resets, unavailable: sim.requests().filter((r) => r.status === 503).length });
      expectSound(report);
      expect(report.pushesSent).toBe(report.pushes);
      expect(proxy.resets + sim.requests().filter((r) => r.status === 503).length).toBeGreaterThan(0);
    } finally {
      await h.close();
    }
  }, CHAOS_FULL ? 900_000 : SHORTENED_TIMEOUT_MS);
});
