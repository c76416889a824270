/**
 * Chaos: the API path (gateway, registration, identity) SIGKILLed mid-load; the client retries with the
 * same Idempotency-Key, as the API asks. Shortened under `npm test`, full under `npm run test:chaos`.
 */
import { FcmSimulator } from '@pushledger/fcm';
import { repoRoot, type Stack, type TestApp } from '@pushledger/testing';
import * as path from 'path';
import { ChaosHarness, CHAOS_FULL, expectSound, killDuringLoad, startChaosStack } from './chaos-harness';

const PARTS = ['gateway', 'registration', 'identity'] as const;

describe(`chaos: API services killed mid-load (${CHAOS_FULL ? 'full' : 'shortened'})`, () => {
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

  it.each(PARTS)('%s SIGKILLed: nothing acknowledged is lost, duplicated or reordered', async (part) => {
    const h = new ChaosHarness(`kill-${part}`, stack, app, sim);
    try {
      expectSound(await killDuringLoad(h, part));
    } finally {
      await h.close();
    }
  }, CHAOS_FULL ? 900_000 : 170_000);
});
