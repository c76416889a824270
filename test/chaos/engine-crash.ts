/**
 * Chaos with an engine failing mid-load. Each suite runs its own Kafka, PostgreSQL and FerretDB (own
 * ports and data directory, see private-engines.ts), never the shared ones, and crashes one of them:
 * Kafka or FerretDB SIGKILLed, PostgreSQL stopped in immediate mode (no checkpoint: crash recovery on
 * start) while appends are in flight; each is started again after `downMs`: 120 s in the full form, 35 s
 * in the shortened one (past the half-minute after which good messages used to be dead-lettered). A
 * supervisor stands by, and must not be needed: no process may exit.
 */
import { FcmSimulator } from '@pushledger/fcm';
import { repoRoot, type Stack, type TestApp } from '@pushledger/testing';
import * as path from 'path';
import { CATCH_UP_MS, ChaosHarness, CHAOS_FULL, expectSound, LOAD, startChaosStack } from './chaos-harness';
import { startPrivateEngines, type EngineName, type PrivateEngines } from './private-engines';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function describeEngineCrash(title: string, engine: EngineName, downMs = CHAOS_FULL ? 120_000 : 35_000): void {
  // The load runs through every outage: its deadline is the undisturbed one plus the time the engine is down.
  const loadDeadlineMs = LOAD.deadlineMs + LOAD.faults * downMs;
  describe(`chaos: ${title} mid-load (${CHAOS_FULL ? 'full' : 'shortened'})`, () => {
    let engines: PrivateEngines;
    let sim: FcmSimulator;
    let stack: Stack;
    let app: TestApp;
    const saved: Record<string, string | undefined> = {};

    beforeAll(async () => {
      engines = await startPrivateEngines();
      // Everything this suite starts (databases, topics, the stack's processes) goes to the private engines.
      for (const [k, v] of Object.entries(engines.env)) {
        saved[k] = process.env[k];
        process.env[k] = v;
      }
      sim = await FcmSimulator.start({ certDir: path.join(repoRoot, '.data/fcm-sim-test'), unavailableRetryAfterSeconds: 1 });
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

    it(`${title}, down ${downMs / 1000} s: nothing acknowledged is lost, duplicated, reordered or dead-lettered, and no process exits`, async () => {
      const h = new ChaosHarness(`restart-${engine}`, stack, app, sim);
      try {
        const planned = LOAD.devices * 6;
        h.startSupervisor();
        const load = h.runLoad(`${engine}-restart`, { ...LOAD, deadlineMs: loadDeadlineMs, pushes: true, opDeadlineMs: 180_000 });
        for (let i = 1; i <= LOAD.faults; i++) {
          await h.waitAcked(Math.floor((planned * i) / (LOAD.faults + 2)), loadDeadlineMs);
          await h.fault(`${engine} crash`, async () => {
            await engines.crash(engine);
            await sleep(downMs);
            await engines.up();
          });
        }
        await load;
        const report = await h.verify();
        expectSound(report);
        expect(report.supervisorRestarts).toBe(0);
        // While the engine was away every refusal was a 503 with Retry-After, never a 500.
        expect(report.serverErrors).toBe(0);
        // Once the engine is back, every operation gets through: none given up after its deadline.
        expect(report.abandoned).toBe(0);
      } finally {
        await h.close();
      }
    }, loadDeadlineMs + 2 * CATCH_UP_MS + 180_000);
  });
}
