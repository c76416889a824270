import * as fs from 'fs';
import * as path from 'path';
import mongoose from 'mongoose';
import { deadLetterTopics, deviceStream } from '@pushledger/contracts';
import { FcmSimulator } from '@pushledger/fcm';
import type { StoredEvent } from '@pushledger/event-store';
import { deterministicUuid } from '@pushledger/lifecycle';
import { maskToken } from '@pushledger/observability';
import { createPrivateEventStore } from '@pushledger/privacy';
import { DeadLetters } from '@pushledger/kafka';
import { lastProjectedPosition, ReadModels } from '@pushledger/read-models';
import { repoRoot, startStack, testConfig, testKafka, waitFor, type RunningProcess, type Stack, type StackPart, type TestApp, type ToolArgs } from '@pushledger/testing';
import { missingStreamKinds, repeatedFacts, userModelProblems, type Fact, type UserModelDoc } from './fact-checks';

/** `npm run test:chaos` sets it: long loads, several faults per scenario. Without it (`npm test`) every scenario runs shortened. */
export const CHAOS_FULL = process.env.PUSHLEDGER_CHAOS_FULL === '1';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const RETRYABLE = new Set([0, 408, 429, 500, 502, 503, 504]);

export type OpKind = 'register' | 'identify' | 'logout' | 'push';

export interface Op {
  opId: number;
  kind: OpKind;
  deviceId: string;
  /** Idempotency-Key, the same on every attempt: it fixes the command id (gateway's IdempotencyStore). */
  key: string;
  commandId: string;
  token?: string;
  userId?: string;
  messageId?: string;
  startedAt: number;
  endedAt?: number;
  attempts: number;
  status?: number;
  /** 2xx answered: the client was told the write happened. */
  acked: boolean;
  /** Gave up (retries or time exhausted) without an answer: its effect is unknown, the device's script stops. */
  abandoned: boolean;
}

interface DeviceRun {
  deviceId: string;
  ops: Op[];
  tokens: string[];
}

export interface LoadOptions {
  devices: number;
  concurrency: number;
  /** Push to each device once it is identified (needs the campaign and delivery parts). */
  pushes?: boolean;
  /**
   * Only every n-th device (the first included) runs the whole script; the others only register. Default 1:
   * every device runs it.
   */
  wholeScriptEvery?: number;
  /** Operations started per second across all workers; unlimited when absent. */
  ratePerSec?: number;
  /** No new operation starts after this; operations in flight still finish (bounded by opDeadlineMs). */
  deadlineMs: number;
  opDeadlineMs?: number;
}

export interface ChaosReport {
  scenario: string;
  historyFile: string;
  ops: number;
  acked: number;
  ackedByKind: Partial<Record<OpKind, number>>;
  abandoned: number;
  rejected: number;
  attempts: number;
  retried: number;
  devices: number;
  deviceEvents: number;
  storeEvents: number;
  /** Streams in the store by kind (`device`, `user`, `token`, `app`, ...): what the repeated-fact check covered. */
  streamsByKind: Record<string, number>;
  /** `users` read-model documents of the app the user-model check read. */
  usersChecked: number;
  pushes: number;
  pushesSent: number;
  maxReceiptsPerMessage: number;
  /** From the end of the load (and of deliveries) until the read models reached the store's head. */
  projectorCatchUpSeconds?: number;
  faults: number;
  /** Per fault, the operations in flight when it began. */
  inFlightAtFaults: number[];
  supervisorRestarts: number;
  /** Answers 5xx other than 503: an engine away must never be a fault of ours (500). */
  serverErrors: number;
  problems: string[];
  seconds: number;
}

/**
 * Drives load against a running stack, keeps a JSONL history of every request and of every fault it
 * injects (only into the processes of that stack, or engines it started itself), and afterwards checks
 * the history against the event store, the read models and the FCM simulator's request log.
 */
export class ChaosHarness {
  readonly historyFile: string;
  private readonly out: fs.WriteStream;
  private readonly devices: DeviceRun[] = [];
  private readonly restarting = new Set<StackPart>();
  private nextOp = 0;
  private nextSlot = 0;
  private supervising = false;
  private supervisor?: Promise<void>;
  private readonly started = Date.now();
  /** When each fault began: the checks ask that every one of them hit operations in flight. */
  private readonly faultStarts: number[] = [];
  supervisorRestarts = 0;
  serverErrors = 0;
  /** Where requests go, in turn (a retry goes to the next one), as behind a load balancer. */
  gateways: string[];

  constructor(
    readonly scenario: string,
    readonly stack: Stack,
    readonly app: TestApp,
    private readonly sim?: FcmSimulator,
  ) {
    const dir = path.join(repoRoot, '.data/chaos');
    fs.mkdirSync(dir, { recursive: true });
    this.historyFile = path.join(dir, `${scenario}-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`);
    this.out = fs.createWriteStream(this.historyFile);
    this.gateways = [stack.url];
  }

  record(entry: Record<string, unknown>): void {
    this.out.write(JSON.stringify({ at: Date.now(), ...entry }) + '\n');
  }

  get acked(): number {
    return this.devices.reduce((n, d) => n + d.ops.filter((o) => o.acked).length, 0);
  }

  /**
   * Restarts any stack process that died on its own (as a supervisor would), bounded per part. It runs until
   * `close`, through `verify`: a follower that died as the load ended must come back for the read models to
   * catch up (stopping it first once left a projector down and the check waiting for it). Each part restarts
   * on its own: a service waiting to be healthy does not hold up the restart of another.
   */
  startSupervisor(maxRestartsPerPart = 20): void {
    this.supervising = true;
    const counts = new Map<StackPart, number>();
    const restarts = new Set<Promise<void>>();
    this.supervisor = (async () => {
      while (this.supervising) {
        for (const [part, proc] of this.stack.procs) {
          if (!this.supervising || this.restarting.has(part)) continue;
          if (proc.child.exitCode === null && proc.child.signalCode === null) continue;
          const n = (counts.get(part) ?? 0) + 1;
          counts.set(part, n);
          if (n > maxRestartsPerPart) continue;
          this.supervisorRestarts++;
          this.record({ t: 'supervisor-restart', part, exitCode: proc.child.exitCode, signal: proc.child.signalCode, output: proc.logs().slice(-600) });
          this.restarting.add(part);
          const restart: Promise<void> = this.stack
            .restart(part)
            .catch((err: Error) => this.record({ t: 'restart-failed', part, error: err.message.slice(0, 500) }))
            .finally(() => {
              this.restarting.delete(part);
              restarts.delete(restart);
            });
          restarts.add(restart);
        }
        await sleep(500);
      }
      await Promise.all(restarts);
    })();
  }

  async stopSupervisor(): Promise<void> {
    this.supervising = false;
    await this.supervisor;
  }

  /** SIGKILL one process of the stack, leave it down for `downMs`, start it again and wait until it is healthy. */
  async kill(part: StackPart, downMs = 1000): Promise<void> {
    const proc = this.stack.procs.get(part);
    if (!proc) throw new Error(`no ${part} in this stack`);
    this.restarting.add(part);
    try {
      await this.busy();
      this.faultBegins({ t: 'fault', fault: 'SIGKILL', part, pid: proc.child.pid, ackedSoFar: this.acked });
      proc.kill('SIGKILL');
      await proc.exited;
      await sleep(downMs);
      await this.stack.restart(part);
      this.record({ t: 'recovered', part, pid: this.stack.procs.get(part)!.child.pid });
    } finally {
      this.restarting.delete(part);
    }
  }

  /** SIGKILL a process that is not restarted (one of several replicas): the others must carry its work. */
  async killReplica(part: StackPart, proc: RunningProcess): Promise<void> {
    await this.busy();
    this.faultBegins({ t: 'fault', fault: 'SIGKILL replica', part, pid: proc.child.pid, ackedSoFar: this.acked });
    proc.kill('SIGKILL');
    await proc.exited;
  }

  /** SIGSTOP, wait, SIGCONT. */
  async pause(part: StackPart, pausedMs: number): Promise<void> {
    const proc = this.stack.procs.get(part);
    if (!proc) throw new Error(`no ${part} in this stack`);
    await this.busy();
    this.faultBegins({ t: 'fault', fault: 'SIGSTOP', part, pid: proc.child.pid, ms: pausedMs, ackedSoFar: this.acked });
    proc.child.kill('SIGSTOP');
    try {
      await sleep(pausedMs);
    } finally {
      proc.child.kill('SIGCONT');
      this.record({ t: 'fault-end', fault: 'SIGCONT', part });
    }
  }

  /** A fault the scenario injects itself (an engine restart, FCM errors): recorded around `action`. */
  async fault<T>(name: string, action: () => Promise<T>): Promise<T> {
    await this.busy();
    this.faultBegins({ t: 'fault', fault: name, ackedSoFar: this.acked });
    try {
      return await action();
    } finally {
      this.record({ t: 'fault-end', fault: name });
    }
  }

  /**
   * Resolves once an operation is in flight, so the fault that follows (in the same turn of the event loop,
   * before any answer can arrive) meets work: a paced load leaves instants with nothing in flight.
   */
  private async busy(): Promise<void> {
    await waitFor(async () => this.inFlightNow > 0, { timeoutMs: 60_000, intervalMs: 1, what: 'an operation in flight to fault' });
  }

  private faultBegins(entry: Record<string, unknown>): void {
    const at = Date.now();
    this.faultStarts.push(at);
    this.record({ ...entry, inFlight: this.inFlightAt(at) });
  }

  /** Operations started and not yet answered (or abandoned) now: what `busy` waits on, without walking them all. */
  private inFlightNow = 0;

  /** Operations started and not yet answered (or abandoned) at `t`. */
  private inFlightAt(t: number): number {
    return this.devices.reduce((n, d) => n + d.ops.filter((o) => o.startedAt <= t && (o.endedAt === undefined || o.endedAt >= t)).length, 0);
  }

  async waitAcked(n: number, timeoutMs = 120_000): Promise<void> {
    await waitFor(async () => this.acked >= n, { timeoutMs, intervalMs: 50, what: `${n} acknowledged operations` });
  }

  /** Resident memory (kB) of each stack process, from /proc. */
  rss(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [part, proc] of this.stack.procs) {
      // A process that just exited (the supervisor restarts it) has no /proc entry: no sample for it this time.
      let status: RegExpMatchArray | null = null;
      try {
        status = proc.child.pid ? fs.readFileSync(`/proc/${proc.child.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/) : null;
      } catch {
        status = null;
      }
      if (status) out[part] = Number(status[1]);
    }
    return out;
  }

  /**
   * Each device runs a sequential script: register, identify, (push), logout, register a new token,
   * identify another user. Every step changes the device, so each acknowledged one must leave facts.
   */
  async runLoad(prefix: string, opts: LoadOptions): Promise<void> {
    const deadline = Date.now() + opts.deadlineMs;
    const ids = Array.from({ length: opts.devices }, (_, i) => `${prefix}-${i}`);
    let next = 0;
    const worker = async () => {
      while (next < ids.length && Date.now() < deadline) {
      const i = next++;
      await this.device(ids[i], opts, deadline, i % (opts.wholeScriptEvery ?? 1) === 0);
    }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
  }

  private async device(deviceId: string, opts: LoadOptions, deadline: number, wholeScript: boolean): Promise<void> {
    const run: DeviceRun = { deviceId, ops: [], tokens: [] };
    this.devices.push(run);
    const token = (n: number) => `chaos-${deviceId}-${n}-${Date.now().toString(36)}-${'x'.repeat(32)}`;
    const [t0, t1] = [token(0), token(1)];
    const [uA, uB] = [`${deviceId}-ua`, `${deviceId}-ub`];
    const steps: [OpKind, Record<string, unknown>, Partial<Op>][] = [
      ['register', { deviceId, token: t0, provider: 'fcm', platform: 'android', appVersion: '1.0.0' }, { token: t0 }],
      ['identify', { deviceId, userId: uA }, { userId: uA }],
      ...(opts.pushes ? [['push', { to: { deviceId }, notification: { title: 'chaos', body: deviceId }, transactional: true }, { token: t0 }] as [OpKind, Record<string, unknown>, Partial<Op>]] : []),
      ['logout', { deviceId }, {}],
      ['register', { deviceId, token: t1, provider: 'fcm', platform: 'android', appVersion: '1.0.1' }, { token: t1 }],
      ['identify', { deviceId, userId: uB }, { userId: uB }],
    ];
    for (const [kind, body, extra] of wholeScript ? steps : steps.slice(0, 1)) {
      if (Date.now() >= deadline) return;
      const op = await this.execute(run, kind, body, extra, opts);
      if (!op.acked) return;
    }
  }

  private async pace(ratePerSec?: number): Promise<void> {
    if (!ratePerSec) return;
    const now = Date.now();
    const slot = Math.max(now, this.nextSlot);
    this.nextSlot = slot + 1000 / ratePerSec;
    if (slot > now) await sleep(slot - now);
  }

  private async execute(run: DeviceRun, kind: OpKind, body: Record<string, unknown>, extra: Partial<Op>, opts: LoadOptions): Promise<Op> {
    await this.pace(opts.ratePerSec);
    const opId = ++this.nextOp;
    const key = `${this.scenario}-${run.deviceId}-${opId}`;
    const appId = this.app.id;
    const commandId = kind === 'push' ? deterministicUuid(`push:${appId}:${key}`) : deterministicUuid(`idempotency:${appId}:${key}`);
    const op: Op = { opId, kind, deviceId: run.deviceId, key, commandId, startedAt: Date.now(), attempts: 0, acked: false, abandoned: false, ...extra };
    run.ops.push(op);
    this.inFlightNow++;
    try {
      const isPush = kind === 'push';
      const route = kind === 'register' ? '/v1/devices' : `/v1/${kind}`;
      const payload = isPush ? { ...body, idempotencyKey: key } : body;
      const headers: Record<string, string> = { authorization: `Bearer ${isPush ? this.app.serverKey : this.app.writeKey}`, 'content-type': 'application/json' };
      if (!isPush) headers['idempotency-key'] = key;
      // Bounded by time only: 30 attempts (about 81 s at the 3 s back-off cap) gave up inside a 120 s outage.
      const until = op.startedAt + (opts.opDeadlineMs ?? 120_000);
      for (let attempt = 1; Date.now() < until; attempt++) {
        op.attempts = attempt;
        const start = Date.now();
        let status = 0;
        let json: any;
        let error: string | undefined;
        try {
          const gateway = this.gateways[(opId + attempt) % this.gateways.length];
          const res = await fetch(`${gateway}${route}`, { method: 'POST', headers, body: JSON.stringify(payload), signal: AbortSignal.timeout(30_000) });
          status = res.status;
          const text = await res.text();
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = text.slice(0, 200);
          }
        } catch (err) {
          error = (err as Error).cause ? String((err as Error & { cause: unknown }).cause) : (err as Error).message;
        }
        this.record({ t: 'attempt', opId, kind, deviceId: run.deviceId, attempt, start, end: Date.now(), status, body: summarize(json), error, token: op.token ? maskToken(op.token) : undefined });
        op.status = status;
        if (status >= 500 && status !== 503) this.serverErrors++;
        if (status >= 200 && status < 300) {
          op.acked = true;
          op.endedAt = Date.now();
          if (isPush) op.messageId = json?.messageId;
          return op;
        }
        if (!RETRYABLE.has(status)) break;
        await sleep(Math.min(3000, 100 * 2 ** attempt));
      }
      op.endedAt = Date.now();
      op.abandoned = RETRYABLE.has(op.status ?? 0);
      this.record({ t: op.abandoned ? 'abandoned' : 'rejected', opId, kind, deviceId: run.deviceId, status: op.status });
      return op;
    } finally {
      this.inFlightNow--;
    }
  }

  /**
   * The checks: every acknowledged operation left its facts (no lost write), each exactly once (no
   * duplicate, in any stream), in acknowledgement order per device; the read models hold every device as
   * the store does, and each user lists its devices once and no device another user owns; no device got
   * one message more than twice.
   */
  async verify(opts: { catchUpMs?: number; requireDelivery?: boolean } = {}): Promise<ChaosReport> {
    const problems: string[] = [];
    const config = testConfig({ POSTGRES_URL: this.stack.env.POSTGRES_URL });
    const store = await createPrivateEventStore(config, { poolSize: 2 });
    const conn = await mongoose.createConnection(this.stack.env.MONGODB_URI, { serverSelectionTimeoutMS: 15000 }).asPromise();
    const reads = new ReadModels(conn, { pointerTtlMs: 0, store });
    const ops = this.devices.flatMap((d) => d.ops);
    const ackedByKind = ops.filter((o) => o.acked).reduce<Partial<Record<OpKind, number>>>((m, o) => ({ ...m, [o.kind]: (m[o.kind] ?? 0) + 1 }), {});
    let deviceEvents = 0;
    let storeEvents = 0;
    let streamsByKind: Record<string, number> = {};
    let usersChecked = 0;
    let pushes = 0;
    let pushesSent = 0;
    let maxReceipts = 0;
    let projectorCatchUpSeconds: number | undefined;
    try {
      // Deliveries first: their facts (PushSent) land in the device streams the later checks read.
      if (this.sim) {
        const acks = this.devices.flatMap((d) => d.ops.filter((o) => o.kind === 'push' && o.acked && o.messageId));
        pushes = acks.length;
        const outcomes = new Map<string, { outcome: string; reason?: string }>();
        await waitFor(
          async () => {
            for (const op of acks) {
              if (outcomes.has(op.messageId!)) continue;
              const res = await fetch(`${this.gateways[0]}/v1/messages/${op.messageId}`, { headers: { authorization: `Bearer ${this.app.serverKey}` } });
              if (res.status !== 200) continue;
              const row = ((await res.json()) as { deviceId: string; outcome: string; reason?: string }[]).find((o) => o.deviceId === op.deviceId);
              if (row && row.outcome !== 'pending') outcomes.set(op.messageId!, row);
            }
            return outcomes.size === acks.length;
          },
          { timeoutMs: opts.catchUpMs ?? CATCH_UP_MS, intervalMs: 1000, what: 'an outcome for every acknowledged push' },
        ).catch(() => undefined);
        for (const op of acks) {
          const tag = op.messageId!.slice(0, 64);
          const receipts = this.sim.requestsFor(op.token!).filter((r) => r.status === 200 && (r.message as any)?.android?.notification?.tag === tag).length;
          maxReceipts = Math.max(maxReceipts, receipts);
          const outcome = outcomes.get(op.messageId!);
          this.record({ t: 'effect', opId: op.opId, kind: 'push', deviceId: op.deviceId, messageId: op.messageId, outcome: outcome?.outcome, reason: outcome?.reason, receipts });
          if (receipts > 2) problems.push(`duplicate delivery: ${op.deviceId} received message ${op.messageId} ${receipts} times`);
          if (!outcome) problems.push(`lost: push #${op.opId} to ${op.deviceId} acknowledged (message ${op.messageId}) but has no outcome`);
          else if (outcome.outcome === 'sent') {
            pushesSent++;
            if (receipts === 0) problems.push(`push #${op.opId} to ${op.deviceId} reported sent but the simulator never accepted it`);
          } else if (opts.requireDelivery) problems.push(`push #${op.opId} to ${op.deviceId}: outcome ${outcome.outcome} ${outcome.reason ?? ''}`);
        }
      }
      const head = await lastProjectedPosition(store);
      const catchUpFrom = Date.now();
      await waitFor(async () => (await reads.position()) >= head, { timeoutMs: opts.catchUpMs ?? CATCH_UP_MS, intervalMs: 250, what: `the projector to reach position ${head}` });
      projectorCatchUpSeconds = Math.round((Date.now() - catchUpFrom) / 100) / 10;

      // Slim copies: the soak's store holds far more than its checks need to keep. One read serves every check.
      const facts: Fact[] = [];
      const runStreams = new Map(this.devices.map((run) => [deviceStream(this.app.id, run.deviceId), [] as RunFact[]]));
      for await (const e of store.readAll({})) {
        storeEvents++;
        facts.push({ stream: e.stream, type: e.type, eventId: e.eventId, data: { deviceId: (e.data as { deviceId?: unknown } | null)?.deviceId }, metadata: { causationId: e.metadata?.causationId } });
        runStreams.get(e.stream)?.push({ type: e.type, streamRevision: e.streamRevision, metadata: { correlationId: e.metadata?.correlationId } });
      }
      const repeated = repeatedFacts(facts);
      streamsByKind = repeated.streamsByKind;
      problems.push(...repeated.problems, ...missingStreamKinds(ackedByKind, streamsByKind));

      const users: UserModelDoc[] = [];
      for (const coll of (await reads.layout())?.allUsers() ?? []) {
        for (const doc of await coll.find({ appId: this.app.id }, { projection: { appId: 1, userId: 1, devices: 1, linkedDevices: 1, deviceCount: 1 } }).toArray()) users.push(doc);
      }
      usersChecked = users.length;
      if ((ackedByKind.identify ?? 0) > 0 && !users.length) problems.push(`read model: no user document, yet ${ackedByKind.identify} identify acknowledged`);
      problems.push(...userModelProblems(users));

      for (const run of this.devices) {
        const events = runStreams.get(deviceStream(this.app.id, run.deviceId))!;
        deviceEvents += events.length;
        const writes = run.ops.filter((o) => o.kind !== 'push');
        const acked = writes.filter((o) => o.acked);
        let lastRevision = -1n;
        for (const op of acked) {
          const mine = events.filter((e) => e.metadata.correlationId === op.commandId);
          if (!mine.length) {
            problems.push(`lost: ${op.kind} #${op.opId} on ${run.deviceId} acknowledged (${op.status}) but no fact carries its command ${op.commandId}`);
            continue;
          }
          if (op.kind === 'register' && op === writes[0] && mine.filter((e) => e.type === 'TokenRegistered').length !== 1) {
            problems.push(`register #${op.opId} on ${run.deviceId}: ${mine.filter((e) => e.type === 'TokenRegistered').length} TokenRegistered`);
          }
          const first = minRevision(mine);
          if (first <= lastRevision) problems.push(`order: ${op.kind} #${op.opId} on ${run.deviceId} stored at revision ${first}, not after the previous acknowledged operation (revision ${lastRevision})`);
          lastRevision = maxRevision(mine);
        }
        if (!acked.length) continue;
        const doc = await reads.device(this.app.id, run.deviceId);
        if (!doc) {
          problems.push(`read model: ${run.deviceId} (${events.length} facts) missing`);
          continue;
        }
        if (doc.revision !== events.length) problems.push(`read model: ${run.deviceId} at revision ${doc.revision}, its stream has ${events.length} facts`);
        if (writes.every((o) => o.acked)) {
          const lastToken = [...acked].reverse().find((o) => o.kind === 'register')!.token;
          const owner = expectedOwner(acked);
          // The read model shows tokens masked (kept sealed): the mask's hash part tells tokens apart.
          if (maskToken(doc.token) !== maskToken(lastToken)) problems.push(`read model: ${run.deviceId} has token ${maskToken(doc.token)}, last acknowledged ${maskToken(lastToken)}`);
          if ((doc.userId ?? null) !== owner) problems.push(`read model: ${run.deviceId} owned by ${doc.userId}, expected ${owner}`);
        }
      }

      // The scenarios send no poison: anything in a dead-letter topic is good work an outage pushed out.
      const depths = await new DeadLetters(testKafka(undefined, this.stack.env), this.stack.suffix).depths(deadLetterTopics(this.stack.suffix));
      for (const [topic, depth] of Object.entries(depths)) if (depth > 0) problems.push(`dead-lettered: ${depth} message(s) in ${topic}`);
    } finally {
      await store.close().catch(() => undefined);
      await conn.close().catch(() => undefined);
    }
    const report: ChaosReport = {
      scenario: this.scenario,
      historyFile: path.relative(repoRoot, this.historyFile),
      ops: ops.length,
      acked: ops.filter((o) => o.acked).length,
      ackedByKind,
      abandoned: ops.filter((o) => o.abandoned).length,
      rejected: ops.filter((o) => !o.acked && !o.abandoned).length,
      attempts: ops.reduce((n, o) => n + o.attempts, 0),
      retried: ops.filter((o) => o.attempts > 1).length,
      devices: this.devices.length,
      deviceEvents,
      storeEvents,
      streamsByKind,
      usersChecked,
      pushes,
      pushesSent,
      maxReceiptsPerMessage: maxReceipts,
      projectorCatchUpSeconds,
      faults: this.faultStarts.length,
      inFlightAtFaults: this.faultStarts.map((t) => this.inFlightAt(t)),
      supervisorRestarts: this.supervisorRestarts,
      serverErrors: this.serverErrors,
      problems: problems.slice(0, 50),
      seconds: Math.round((Date.now() - this.started) / 1000),
    };
    this.record({ t: 'report', ...report, problemCount: problems.length });
    process.stderr.write(`chaos ${this.scenario}: ${JSON.stringify({ ...report, problems: problems.length })}\n`);
    return report;
  }

  async close(): Promise<void> {
    await this.stopSupervisor();
    await new Promise((r) => this.out.end(r));
  }
}

function summarize(json: any): unknown {
  if (json === undefined || json === null || typeof json !== 'object') return json;
  if (json.error) return { error: json.error.code };
  // Device views carry the token masked already; keep the fields the checks reason about.
  const pick = ['id', 'userId', 'status', 'revision', 'messageId', 'targeted', 'skipped'];
  return Object.fromEntries(pick.filter((k) => k in json).map((k) => [k, json[k]]));
}

/** What the per-device checks read of a fact. */
type RunFact = Pick<StoredEvent, 'type' | 'streamRevision'> & { metadata: { correlationId?: string | null } };
const minRevision = (events: RunFact[]) => events.reduce((m, e) => (e.streamRevision < m ? e.streamRevision : m), events[0].streamRevision);
const maxRevision = (events: RunFact[]) => events.reduce((m, e) => (e.streamRevision > m ? e.streamRevision : m), events[0].streamRevision);

function expectedOwner(acked: Op[]): string | null {
  let owner: string | null = null;
  for (const op of acked) {
    if (op.kind === 'identify') owner = op.userId!;
    if (op.kind === 'logout') owner = null;
  }
  return owner;
}

/** Parts of a full stack, with FCM traffic pointed at `fcm` (the simulator, or a proxy in front of it). */
export const FULL_STACK: StackPart[] = ['gateway', 'registration', 'identity', 'relay', 'projector', 'campaign', 'delivery'];

/** How long `verify` waits, at most, for deliveries and again for the projector to catch up. */
export const CATCH_UP_MS = 180_000;

/** Load sizes: a few hundred requests in the shortened form, several thousand in the full one. */
/**
 * The full form paces its 2,400 operations at 12/s (200 s), so its load outlasts three faults even where a fault
 * does not hold operations up (a paused projector, FCM errors, a killed relay): every fault then meets work.
 */
export const LOAD: { devices: number; concurrency: number; faults: number; deadlineMs: number; ratePerSec?: number } = CHAOS_FULL
  ? { devices: 400, concurrency: 8, faults: 3, deadlineMs: 420_000, ratePerSec: 12 }
  : { devices: 16, concurrency: 6, faults: 1, deadlineMs: 90_000 };

/** A shortened scenario's Jest timeout: its load, then both of verify's bounded waits, then the checks. */
export const SHORTENED_TIMEOUT_MS = LOAD.deadlineMs + 2 * CATCH_UP_MS + 60_000;

/** A suite's stack with the FCM simulator (optionally behind `fcmPort`, a proxy) and one app. */
export async function startChaosStack(sim: FcmSimulator, fcmPort?: number, env: Record<string, string> = {}, toolArgs: ToolArgs = {}): Promise<{ stack: Stack; app: TestApp }> {
  const stack = await startStack(
    FULL_STACK,
    {
      FCM_ENDPOINT: fcmPort ? `https://127.0.0.1:${fcmPort}` : sim.url,
      FCM_CA_FILE: sim.caFile,
      DELIVERY_RETRY_BASE_MS: '300',
      ...env,
    },
    toolArgs,
  );
  return { stack, app: await stack.createApp({}, 'chaos') };
}

/**
 * Load with `faults` SIGKILLs of `part` spread over it (each after a share of the planned operations is
 * acknowledged), then the checks.
 */
export async function killDuringLoad(h: ChaosHarness, part: StackPart, faults = LOAD.faults): Promise<ChaosReport> {
  const planned = LOAD.devices * 6;
  h.startSupervisor();
  const load = h.runLoad(`${part}-kill`, { ...LOAD, pushes: true });
  for (let i = 1; i <= faults; i++) {
    await h.waitAcked(Math.floor((planned * i) / (faults + 2)), LOAD.deadlineMs);
    await h.kill(part);
  }
  await load;
  return h.verify();
}

/** What every scenario asserts of its report; `faults: false` for a run without injected faults (the soak). */
export function expectSound(report: ChaosReport, opts: { faults?: boolean } = {}): void {
  if (report.problems.length) throw new Error(`${report.scenario}: ${report.problems.length} problem(s) (history ${report.historyFile}):\n${report.problems.join('\n')}`);
  // The load must have meant something: most operations acknowledged despite the faults.
  if (report.acked < report.ops * 0.8) throw new Error(`${report.scenario}: only ${report.acked} of ${report.ops} operations acknowledged (history ${report.historyFile})`);
  if (opts.faults !== false && report.faults < 1) throw new Error(`${report.scenario}: no fault injected`);
  // A fault that hit an idle system shows nothing about the work it could have broken.
  const idle = report.inFlightAtFaults.flatMap((n, i) => (n === 0 ? [i + 1] : []));
  if (idle.length) throw new Error(`${report.scenario}: fault(s) ${idle.join(', ')} began with no operation in flight (history ${report.historyFile})`);
}

/** One suite: a full stack with the FCM simulator, and for each part a load during which it is SIGKILLed. */
export function describeKills(title: string, parts: StackPart[]): void {
  describe(`chaos: ${title} killed mid-load (${CHAOS_FULL ? 'full' : 'shortened'})`, () => {
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

    it.each(parts)('%s SIGKILLed: nothing acknowledged is lost, duplicated or reordered', async (part) => {
      const h = new ChaosHarness(`kill-${part}`, stack, app, sim);
      try {
        expectSound(await killDuringLoad(h, part));
      } finally {
        await h.close();
      }
    }, CHAOS_FULL ? 900_000 : SHORTENED_TIMEOUT_MS);
  });
}
