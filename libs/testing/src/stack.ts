import { randomBytes } from 'crypto';
import { createTestDatabase, testConfig, testKafka, uniqueName, waitFor } from './engines';
import { freePort, listensOn, RunningProcess, startProcess, startService } from './processes';

export type StackPart = 'gateway' | 'registration' | 'identity' | 'campaign' | 'delivery' | 'relay' | 'projector';

export interface Stack {
  url: string;
  adminToken: string;
  suffix: string;
  env: Record<string, string>;
  procs: Map<StackPart, RunningProcess>;
  /** Creates an app through the API (`credentials`: e.g. `{ apns }` or `{ webpush }` beside the FCM stand-in); returns its id and keys. */
  createApp(settings?: Record<string, unknown>, name?: string, credentials?: Record<string, unknown>): Promise<TestApp>;
  restart(part: StackPart): Promise<void>;
  /** Another gateway replica on the same stack (its own port), healthy; stopped with the stack. */
  startGateway(): Promise<{ url: string; proc: RunningProcess }>;
  /** Base URL of a service's /health (the gateway's is `url`); undefined for the relay and the projector. */
  healthUrl(part: StackPart): string | undefined;
  /**
   * Another instance of any part, stopped with the stack: a service on its own port, healthy (`url` is its
   * health port's, or the API's for the gateway); a relay or projector started (it leads only if none does).
   */
  startReplica(part: StackPart): Promise<{ url?: string; proc: RunningProcess }>;
  logs(): string;
  stop(): Promise<void>;
}

export interface TestApp {
  id: string;
  name: string;
  writeKey: string;
  serverKey: string;
  /** Shown once, at creation: proves user ids where the app verifies identities. */
  identitySecret: string;
  settings: Record<string, unknown>;
}

const HEALTH_PARTS: StackPart[] = ['gateway', 'registration', 'identity', 'campaign', 'delivery'];

/**
 * A whole Pushledger for one suite: its own event-store database, read-model database, Kafka topic
 * namespace and ports, running the compiled services as real processes.
 */
/** The default parts: the gateway's device and user reads are served from the read models, so the projector runs too. */
export const DEFAULT_STACK_PARTS: StackPart[] = ['gateway', 'registration', 'identity', 'relay', 'projector'];
/** Segments are streams of the campaign service: suites that store or read them run it too. */
export const SEGMENT_STACK_PARTS: StackPart[] = [...DEFAULT_STACK_PARTS, 'campaign'];

/** Extra command-line arguments of the relay or the projector (e.g. the projector's `--cache`). */
export type ToolArgs = Partial<Record<'relay' | 'projector', string[]>>;

export async function startStack(parts: StackPart[] = DEFAULT_STACK_PARTS, extraEnv: Record<string, string> = {}, toolArgs: ToolArgs = {}): Promise<Stack> {
  const db = await createTestDatabase('stack');
  const suffix = uniqueName('s');
  const mongo = new URL(testConfig().mongodbUri);
  mongo.pathname = `/${suffix}`;
  const port = await freePort();
  const adminToken = `adm_${randomBytes(16).toString('hex')}`;
  const env: Record<string, string> = {
    POSTGRES_URL: db.url,
    MONGODB_URI: mongo.toString(),
    KAFKA_TOPIC_SUFFIX: suffix,
    PORT: String(port),
    PUSHLEDGER_ADMIN_TOKEN: adminToken,
    LOG_LEVEL: 'warn',
    ...(process.env.PUSHLEDGER_SECRET_KEY_FILE || extraEnv.PUSHLEDGER_SECRET_KEY_FILE ? {} : { PUSHLEDGER_SECRET_KEY: process.env.PUSHLEDGER_SECRET_KEY || randomBytes(32).toString('base64') }),
    ...extraEnv,
  };
  const ports = new Map<StackPart, number>();
  const procs = new Map<StackPart, RunningProcess>();
  const replicas: RunningProcess[] = [];
  // Two read-model partitions rather than FerretDB's default 32 (a suite's data is small), unless the suite names a number.
  const partitionArgs = (part: 'relay' | 'projector') => (part === 'projector' && !toolArgs.projector?.includes('--partitions') ? ['--partitions', '2'] : []);
  const startTool = (part: 'relay' | 'projector') => startProcess(part, `tools/${part}/main.js`, env, [...partitionArgs(part), ...(toolArgs[part] ?? [])]);
  const launch = async (part: StackPart) => {
    if (part === 'relay' || part === 'projector') {
      procs.set(part, startTool(part));
      return;
    }
    if (!ports.has(part)) ports.set(part, part === 'gateway' && !procs.has(part) ? port : await freePort());
    const own = String(ports.get(part));
    if (part === 'gateway') env.PORT = own;
    procs.set(part, startService(part, part === 'gateway' ? env : { ...env, SERVICE_PORT: own }));
  };
  /** Until the process answers /health from the port it was given: `taken` when another process holds that port (it keeps retrying the bind). */
  const probe = async (p: RunningProcess, port: number, what: string): Promise<'healthy' | 'taken' | 'exited'> => {
    let outcome: 'healthy' | 'taken' | 'exited' = 'healthy';
    await waitFor(
      async () => {
        const bindFailed = p.logs().includes('EADDRINUSE') && !listensOn(p.child.pid!, port);
        // A process that exits while starting fails at once (waitFor would keep probing until its timeout).
        if (p.child.exitCode !== null || p.child.signalCode !== null) outcome = bindFailed ? 'taken' : 'exited';
        else if (bindFailed) outcome = 'taken';
        if (outcome !== 'healthy') return true;
        const res = await fetch(`http://127.0.0.1:${port}/health`).catch(() => null);
        // A 200 counts only from our own process: another suite's may hold the port.
        return res?.status === 200 && listensOn(p.child.pid!, port);
      },
      { timeoutMs: 90000, what },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n--- output:\n${p.logs().slice(-4000)}`);
    });
    return outcome;
  };
  const healthy = async (part: StackPart, tries = 1): Promise<void> => {
    if (!HEALTH_PARTS.includes(part)) return;
    const p = procs.get(part)!;
    const outcome = await probe(p, ports.get(part)!, `${part} to be healthy`);
    if (outcome === 'healthy') return;
    // A free port taken meanwhile by someone else: start again on another one.
    if (outcome === 'taken' && tries < 3) {
      p.kill();
      await p.exited;
      ports.delete(part);
      await launch(part);
      return healthy(part, tries + 1);
    }
    throw new Error(`${part} ${outcome === 'exited' ? `exited while starting (code ${p.child.exitCode}, signal ${p.child.signalCode})` : 'found its port taken 3 times'}\n--- ${part} output:\n${p.logs().slice(-4000)}`);
  };
  for (const part of parts) await launch(part);
  try {
    for (const part of parts) await healthy(part);
  } catch (err) {
    for (const p of procs.values()) p.kill();
    await db.drop().catch(() => undefined);
    throw err;
  }
  const startReplica = async (part: StackPart): Promise<{ url?: string; proc: RunningProcess }> => {
    if (part === 'relay' || part === 'projector') {
      const proc = startTool(part);
      replicas.push(proc);
      return { proc };
    }
    for (let tries = 1; ; tries++) {
      const replicaPort = await freePort();
      const proc = startService(part, part === 'gateway' ? { ...env, PORT: String(replicaPort) } : { ...env, SERVICE_PORT: String(replicaPort) });
      replicas.push(proc);
      const outcome = await probe(proc, replicaPort, `the ${part} replica to be healthy`);
      if (outcome === 'healthy') return { url: `http://127.0.0.1:${replicaPort}`, proc };
      proc.kill();
      await proc.exited;
      if (outcome === 'taken' && tries < 3) continue;
      throw new Error(`the ${part} replica ${outcome === 'exited' ? 'exited while starting' : 'found its port taken 3 times'}\n${proc.logs().slice(-4000)}`);
    }
  };
  const url = `http://127.0.0.1:${ports.get('gateway') ?? port}`;
  return {
    url,
    adminToken,
    suffix,
    env,
    procs,
    async createApp(settings = {}, name = 'test-app', credentials = {}) {
      const res = await fetch(`${url}/v1/apps`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name, fcm: { projectId: 'test-proj', serviceAccount: null }, ...credentials, settings }),
      });
      if (res.status !== 201) throw new Error(`POST /v1/apps: ${res.status} ${await res.text()}`);
      return (await res.json()) as TestApp;
    },
    async restart(part) {
      procs.get(part)?.kill('SIGKILL');
      await procs.get(part)?.exited;
      await launch(part);
      await healthy(part);
    },
    startGateway: async () => {
      const { url, proc } = await startReplica('gateway');
      return { url: url!, proc };
    },
    healthUrl(part) {
      return ports.has(part) ? `http://127.0.0.1:${ports.get(part)}` : undefined;
    },
    startReplica,
    logs() {
      return [...procs.values(), ...replicas].map((p) => `--- ${p.name}\n${p.logs().slice(-4000)}`).join('\n');
    },
    async stop() {
      await Promise.all([...procs.values(), ...replicas].map((p) => p.stop()));
      await db.drop().catch(() => undefined);
      const mongoose = (await import('mongoose')).default;
      const conn = await mongoose.createConnection(env.MONGODB_URI).asPromise().catch(() => null);
      await conn?.dropDatabase().catch(() => undefined);
      await conn?.close();
      const admin = testKafka(undefined, env).admin();
      await admin.connect();
      const topics = (await admin.listTopics()).filter((t) => t.endsWith(`.${suffix}`));
      if (topics.length) await admin.deleteTopics({ topics }).catch(() => undefined);
      await admin.disconnect();
    },
  };
}

/** A small HTTP client for tests: JSON in, status and JSON out. */
export function api(base: string, key?: string) {
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json: any = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = text;
    }
    return { status: res.status, body: json, headers: res.headers };
  };
  return {
    get: (path: string, headers?: Record<string, string>) => call('GET', path, undefined, headers),
    post: (path: string, body?: unknown, headers?: Record<string, string>) => call('POST', path, body, headers),
    put: (path: string, body?: unknown, headers?: Record<string, string>) => call('PUT', path, body, headers),
    patch: (path: string, body?: unknown, headers?: Record<string, string>) => call('PATCH', path, body, headers),
    delete: (path: string, headers?: Record<string, string>) => call('DELETE', path, undefined, headers),
    call,
  };
}

/** A broadcast send answers before its audience is streamed: this waits for the send's record to be finished. */
export async function finishedSend(server: ReturnType<typeof api>, campaignId: string, messageId: string, opts: { timeoutMs?: number; intervalMs?: number } = {}) {
  return waitFor(
    async () => {
      const res = await server.get(`/v1/campaigns/${campaignId}`);
      const send = (res.body?.sends as { messageId: string; wave?: string; status: string }[] | undefined)?.find((s) => s.messageId === messageId && !s.wave);
      return send && (send.status === 'sent' || send.status === 'failed') ? (send as { messageId: string; status: string; targeted: number; skipped: Record<string, number>; runs: number; error?: string }) : undefined;
    },
    { what: `send ${messageId} of campaign ${campaignId} to finish`, timeoutMs: opts.timeoutMs ?? 60000, intervalMs: opts.intervalMs ?? 200 },
  );
}

/** What `POST /v1/push` (and each message of the Twilio send) answers. */
export interface AcceptedPush {
  messageId: string;
  targeted: number;
  skipped: Record<string, number>;
}

export interface PushOutcome {
  deviceId: string;
  outcome: 'sent' | 'bounced' | 'invalidated' | 'failed' | 'skipped';
  reason?: string;
}

/**
 * A push answers once its delivery requests are queued: this waits until every device it targeted or
 * skipped has its (final) outcome in `GET /v1/messages/{id}`, and returns them.
 */
export async function finishedPush(server: ReturnType<typeof api>, push: AcceptedPush, opts: { timeoutMs?: number; intervalMs?: number } = {}): Promise<PushOutcome[]> {
  const expected = push.targeted + Object.values(push.skipped).reduce((a, b) => a + b, 0);
  return waitFor(
    async () => {
      const res = await server.get(`/v1/messages/${push.messageId}`);
      return res.status === 200 && (res.body as PushOutcome[]).length >= expected ? (res.body as PushOutcome[]) : undefined;
    },
    { what: `the ${expected} outcomes of push ${push.messageId}`, timeoutMs: opts.timeoutMs ?? 60000, intervalMs: opts.intervalMs ?? 100 },
  );
}
