/**
 * Chaos: processes frozen (SIGSTOP) for longer than the Kafka consumer-group session timeout (30 s),
 * then resumed (SIGCONT) mid-load: the projector (it polls the store; its read models fall behind), and the
 * registration service (a consumer: the broker evicts it from its group while the gateway keeps sending).
 */
import { FcmSimulator } from '@pushledger/fcm';
import { repoRoot, type StackPart, type Stack, type TestApp } from '@pushledger/testing';
import * as path from 'path';
import { ChaosHarness, CHAOS_FULL, expectSound, LOAD, SHORTENED_TIMEOUT_MS, startChaosStack } from './chaos-harness';

const SESSION_TIMEOUT_MS = 30_000;
const PAUSE_MS = SESSION_TIMEOUT_MS + 5_000;

describe(`chaos: processes paused past the session timeout (${CHAOS_FULL ? 'full' : 'shortened'})`, () => {
  let sim: FcmSimulator;
  let stack: Stack;
  let app: TestApp;

  beforeAll(async () => {
    sim = await FcmSimulator.start({ certDir: path.join(repoRoot, '.data/fcm-sim-test'), unavailableRetryAfterSeconds: 1 });
    ({ stack, app } = await startChaosStack(sim));
  });
  afterAll(async () => {
    await stack?.stop();
    await sim?.stop();
  });

  it.each<StackPart>(['projector', 'registration'])('%s SIGSTOPped past the session timeout, then SIGCONT: nothing acknowledged is lost, duplicated or reordered', async (part) => {
    const h = new ChaosHarness(`pause-${part}`, stack, app, sim);
    try {
      const planned = LOAD.devices * 6;
      h.startSupervisor();
      const load = h.runLoad(`${part}-pause`, { ...LOAD, pushes: true });
      for (let i = 1; i <= LOAD.faults; i++) {
        await h.waitAcked(Math.floor((planned * i) / (LOAD.faults + 2)), LOAD.deadlineMs);
        await h.pause(part, PAUSE_MS);
      }
      await load;
      const report = await h.verify();
      expectSound(report);
      // A freeze is not a crash: nothing had to be restarted.
      expect(report.supervisorRestarts).toBe(0);
    } finally {
      await h.close();
    }
  }, CHAOS_FULL ? 900_000 : SHORTENED_TIMEOUT_MS);
});
