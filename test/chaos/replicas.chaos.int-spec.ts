/**
 * Chaos: every part as two instances (gateway, registration, identity, campaign and delivery side by side;
 * relay and projector as leader and standby), the load spread over both gateways, then one instance of each
 * SIGKILLed at once mid-load and not restarted (for the relay and projector, the leader). The survivors
 * carry the work: the usual checks, and not one of them exits (zero supervisor restarts). Shortened under
 * `npm test`, full (three rounds, a fresh second instance before each) under `npm run test:chaos`.
 */
import * as path from 'path';
import { FcmSimulator } from '@pushledger/fcm';
import { leaderPids, repoRoot, waitFor, type RunningProcess, type Stack, type StackPart, type TestApp } from '@pushledger/testing';
import { CHAOS_FULL, ChaosHarness, expectSound, LOAD, SHORTENED_TIMEOUT_MS, startChaosStack } from './chaos-harness';

const SERVICES: StackPart[] = ['gateway', 'registration', 'identity', 'campaign', 'delivery'];
const TOOLS = ['relay', 'projector'] as const;

describe(`chaos: two replicas of every part, one of each killed mid-load (${CHAOS_FULL ? 'full' : 'shortened'})`, () => {
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

  /** The one relay (or projector) holding the lock; there must never be two. */
  const leaderOf = (tool: 'relay' | 'projector') =>
    waitFor(
      async () => {
        const pids = await leaderPids(stack.env.POSTGRES_URL, tool);
        if (pids.length > 1) throw new Error(`${pids.length} ${tool}s lead at once: ${pids.join(', ')}`);
        return pids[0];
      },
      { timeoutMs: 60_000, what: `a ${tool} to lead` },
    );

  it('nothing acknowledged is lost, duplicated or reordered; the standbys take over; no survivor exits', async () => {
    const h = new ChaosHarness('replicas', stack, app, sim);
    const planned = LOAD.devices * 6;
    const takeovers: string[] = [];
    try {
      h.startSupervisor();
      let second = new Map<StackPart, { url?: string; proc: RunningProcess }>();
      const startSeconds = async () => {
        second = new Map(await Promise.all([...SERVICES, ...TOOLS].map(async (part) => [part, await stack.startReplica(part)] as const)));
        h.gateways = [stack.url, second.get('gateway')!.url!];
      };
      await startSeconds();
      const load = h.runLoad('replicas', { ...LOAD, pushes: true });
      for (let round = 1; round <= LOAD.faults; round++) {
        if (round > 1) await startSeconds();
        await h.waitAcked(Math.floor((planned * round) / (LOAD.faults + 2)), LOAD.deadlineMs);
        // The services' second instances; the relay's and projector's leaders, wherever they run. The
        // survivors are (or become) the stack's own processes: the supervisor watches those.
        const victims: [StackPart, RunningProcess][] = SERVICES.map((part) => [part, second.get(part)!.proc]);
        for (const tool of TOOLS) {
          const pid = await leaderOf(tool);
          const [first, other] = [stack.procs.get(tool)!, second.get(tool)!.proc];
          const leader = [first, other].find((p) => p.child.pid === pid);
          if (!leader) throw new Error(`the ${tool} lock is held by pid ${pid}, none of this stack's ${tool}s`);
          if (leader === first) stack.procs.set(tool, other);
          victims.push([tool, leader]);
        }
        const ackedAtKill = h.acked;
        await Promise.all(victims.map(([part, proc]) => h.killReplica(part, proc)));
        h.gateways = [stack.url];
        for (const tool of TOOLS) {
          const pid = await leaderOf(tool);
          expect(pid).toBe(stack.procs.get(tool)!.child.pid);
          takeovers.push(`${tool} ${victims.find(([p]) => p === tool)![1].child.pid} -> ${pid}`);
        }
        // The kill met work in flight: operations were still to come, and were acknowledged after it.
        expect(ackedAtKill).toBeLessThan(planned);
        await h.waitAcked(ackedAtKill + 1, LOAD.deadlineMs);
      }
      await load;
      const report = await h.verify();
      h.record({ t: 'takeovers', takeovers });
      expectSound(report);
      expect(report.faults).toBe(LOAD.faults * (SERVICES.length + TOOLS.length));
      expect(report.supervisorRestarts).toBe(0);
    } finally {
      await h.close();
    }
  }, CHAOS_FULL ? 900_000 : SHORTENED_TIMEOUT_MS);
});
