/**
 * Each engine stopped in turn under a few writes and reads, on engines private to this suite (see
 * test/chaos/private-engines.ts): every answer is a 2xx or a 503 `unavailable` with Retry-After, never
 * a 500; /health says which dependency is degraded, without error text, and ok again once it is back;
 * every write answered 2xx is readable afterwards, and every one answered 503 goes through when retried
 * with the same Idempotency-Key.
 */
import * as path from 'path';
import { Client } from 'pg';
import { FcmSimulator } from '@pushledger/fcm';
import { api, repoRoot, type Stack, type TestApp, waitFor } from '@pushledger/testing';
import { startChaosStack } from '../chaos/chaos-harness';
import { startPrivateEngines, type EngineName, type PrivateEngines } from '../chaos/private-engines';

interface Answer {
  status: number;
  retryAfter: string | null;
  body: any;
}

interface Write {
  name: string;
  method: 'POST';
  path: string;
  key: 'write' | 'server';
  body: Record<string, unknown>;
  idempotencyKey?: string;
  /** Whether the write's effect is visible: called once it was answered 2xx. */
  readable: (answer: Answer) => Promise<boolean>;
  answers: Answer[];
}

const token = (name: string) => `outage-${name}-${Date.now().toString(36)}-${'t'.repeat(40)}`;

describe('engines away: 503 with Retry-After, never 500; /health degraded, then ok; nothing answered 2xx lost', () => {
  let engines: PrivateEngines;
  let sim: FcmSimulator;
  let stack: Stack;
  let app: TestApp;
  let server: ReturnType<typeof api>;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    engines = await startPrivateEngines();
    for (const [k, v] of Object.entries(engines.env)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    sim = await FcmSimulator.start({ certDir: path.join(repoRoot, '.data/fcm-sim-test') });
    ({ stack, app } = await startChaosStack(sim));
    server = api(stack.url, app.serverKey);
  }, 300_000);

  afterAll(async () => {
    if (process.env.DEBUG_STACK) console.log(stack?.logs());
    await stack?.stop().catch(() => undefined);
    await sim?.stop();
    await engines?.destroy();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }, 120_000);

  async function call(method: string, route: string, key: 'write' | 'server', body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await fetch(`${stack.url}${route}`, {
      method,
      headers: { authorization: `Bearer ${key === 'write' ? app.writeKey : app.serverKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(90_000),
    });
    const text = await res.text();
    let json: unknown = text;
    try {
      json = JSON.parse(text);
    } catch {
      // kept as text: the checks below then fail on its shape
    }
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: json };
  }

  const send = (w: Write) => call(w.method, w.path, w.key, w.body, w.idempotencyKey ? { 'idempotency-key': w.idempotencyKey } : {});

  /** A 2xx, or the one 503 an outage may give: code `unavailable`, a Retry-After, no engine text. */
  function expectOkOrUnavailable(what: string, a: Answer): void {
    if (a.status >= 200 && a.status < 300) return;
    expect({ what, status: a.status, body: a.body }).toEqual({ what, status: 503, body: { error: { code: 'unavailable', message: expect.any(String) } } });
    expect(Number(a.retryAfter)).toBeGreaterThan(0);
    expect(JSON.stringify(a.body)).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|SQLSTATE|ferretdb|kafkajs/i);
  }

  const device = async (deviceId: string) => (await server.get(`/v1/devices/${deviceId}`)).body as { id?: string; userId?: string | null; status?: string };

  /** Two devices the phase's writes change: one to identify, one (identified now) to log out. */
  async function baseline(tag: string): Promise<{ toIdentify: string; toLogOut: string }> {
    const toIdentify = `${tag}-a`;
    const toLogOut = `${tag}-b`;
    // Whatever an earlier phase left behind has healed first.
    for (const part of ['gateway', 'registration'] as const) await waitFor(async () => (await health(urlOf(part))).status === 200, { what: `${part} healthy`, timeoutMs: 120_000, intervalMs: 500 });
    // The owners' consumers may still be rejoining their groups after the previous phase: a 503 is retried, with the same key.
    const until2xx = (route: string, body: Record<string, unknown>, key: string) =>
      waitFor(async () => {
        const a = await call('POST', route, 'write', body, { 'idempotency-key': key });
        expectOkOrUnavailable(`baseline ${route}`, a);
        return a.status < 300 && a;
      }, { what: `baseline ${route} of ${tag}`, timeoutMs: 120_000, intervalMs: 1000 });
    for (const id of [toIdentify, toLogOut]) expect((await until2xx('/v1/devices', { deviceId: id, token: token(id), provider: 'fcm', platform: 'android' }, `${id}-register`)).status).toBe(201);
    expect((await until2xx('/v1/identify', { deviceId: toLogOut, userId: `${tag}-owner` }, `${toLogOut}-identify`)).status).toBe(200);
    return { toIdentify, toLogOut };
  }

  function writesOf(tag: string, base: { toIdentify: string; toLogOut: string }): Write[] {
    const registered = (deviceId: string) => async () => (await device(deviceId)).status === 'active';
    const w = (name: string, path: string, key: 'write' | 'server', body: Record<string, unknown>, readable: Write['readable'], keyed = true): Write => ({
      name,
      method: 'POST',
      path,
      key,
      body,
      idempotencyKey: keyed ? `${tag}-${name}` : undefined,
      readable,
      answers: [],
    });
    return [
      ...[0, 1, 2].map((i) => w(`register-${i}`, '/v1/devices', 'write', { deviceId: `${tag}-new-${i}`, token: token(`${tag}-${i}`), provider: 'fcm', platform: 'android' }, registered(`${tag}-new-${i}`))),
      // No Idempotency-Key: straight to the owner.
      w('register-unkeyed', '/v1/devices', 'write', { deviceId: `${tag}-unkeyed`, token: token(`${tag}-unkeyed`), provider: 'fcm', platform: 'ios' }, registered(`${tag}-unkeyed`), false),
      w('identify', '/v1/identify', 'write', { deviceId: base.toIdentify, userId: `${tag}-user` }, async () => (await device(base.toIdentify)).userId === `${tag}-user`),
      w('logout', '/v1/logout', 'write', { deviceId: base.toLogOut }, async () => (await device(base.toLogOut)).userId === null),
      w('push', '/v1/push', 'server', { to: { deviceId: base.toIdentify }, notification: { title: 'outage', body: tag }, transactional: true, idempotencyKey: `${tag}-push` }, async (a) => {
        const res = await server.get(`/v1/messages/${a.body.messageId}`);
        return res.status === 200 && (res.body as { deviceId: string }[]).some((o) => o.deviceId === base.toIdentify);
      }),
    ];
  }

  async function health(url: string): Promise<{ status: number; body: any; text: string }> {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(20_000) });
    const text = await res.text();
    return { status: res.status, body: JSON.parse(text), text };
  }

  /** Health probes of the registration service: PostgreSQL backends named after it. */
  async function healthBackends(): Promise<number> {
    const c = new Client({ connectionString: stack.env.POSTGRES_URL });
    await c.connect();
    try {
      const { rows } = await c.query('select count(*)::int as n from pg_stat_activity where application_name = $1', ['pushledger-registration-health']);
      return rows[0].n as number;
    } finally {
      await c.end();
    }
  }

  /** Which /health shows the engine away, and under which dependency name. */
  const watched: Record<EngineName, { part: 'gateway' | 'registration'; dependency: string }[]> = {
    postgres: [
      { part: 'registration', dependency: 'postgres' },
      // The read models live in FerretDB, which keeps its data in PostgreSQL.
      { part: 'gateway', dependency: 'mongo' },
    ],
    kafka: [{ part: 'gateway', dependency: 'kafka' }],
    ferretdb: [{ part: 'gateway', dependency: 'mongo' }],
  };
  const urlOf = (part: 'gateway' | 'registration') => (part === 'gateway' ? stack.url : stack.healthUrl(part)!);

  it.each<EngineName>(['postgres', 'kafka', 'ferretdb'])(
    '%s stopped under writes and reads',
    async (engine) => {
      const tag = `${engine}-${Date.now().toString(36)}`;
      const base = await baseline(tag);
      const writes = writesOf(tag, base);
      const reads = [`/v1/devices/${base.toIdentify}`, `/v1/devices/${base.toLogOut}/events`, `/v1/users/${tag}-owner`];

      await engines.crash(engine);
      try {
        for (const { part, dependency } of watched[engine]) {
          const shown = await waitFor(async () => {
            const h = await health(urlOf(part));
            return h.status === 503 && h.body.dependencies[dependency] === 'degraded' && h;
          }, { what: `${part} /health to show ${dependency} degraded`, timeoutMs: 60_000, intervalMs: 500 });
          expect(shown.body.status).toBe('degraded');
          expect(shown.text).not.toMatch(/error|ECONNREFUSED|127\.0\.0\.1|SQLSTATE/i);
        }
        const [writeAnswers, readAnswers] = await Promise.all([Promise.all(writes.map((w) => send(w))), Promise.all(reads.map((r) => call('GET', r, 'server')))]);
        writes.forEach((w, i) => w.answers.push(writeAnswers[i]));
        writes.forEach((w, i) => expectOkOrUnavailable(`${w.name} while ${engine} is down`, writeAnswers[i]));
        reads.forEach((r, i) => expectOkOrUnavailable(`GET ${r} while ${engine} is down`, readAnswers[i]));
        // The outage met the requests: some were refused (PostgreSQL and Kafka take every write with them).
        expect([...writeAnswers, ...readAnswers].filter((a) => a.status === 503).length).toBeGreaterThan(0);
      } finally {
        await engines.up();
      }

      for (const { part } of watched[engine]) {
        const back = await waitFor(async () => {
          const h = await health(urlOf(part));
          return h.status === 200 && h;
        }, { what: `${part} /health to be ok again`, timeoutMs: 120_000, intervalMs: 500 });
        expect(back.body.status).toBe('ok');
      }

      // A 503 was an invitation to retry: the same request goes through now (a 2xx answered again, same effect).
      for (const w of writes) {
        if (w.answers[0].status >= 200 && w.answers[0].status < 300) continue;
        const answer = await waitFor(async () => {
          const a = await send(w);
          expectOkOrUnavailable(`${w.name} retried after ${engine} is back`, a);
          return a.status < 300 && a;
        }, { what: `${w.name} to go through once ${engine} is back`, timeoutMs: 120_000, intervalMs: 1000 });
        w.answers.push(answer);
      }
      // Every write answered 2xx, during the outage or after, is there.
      for (const w of writes) {
        const ok = w.answers.find((a) => a.status < 300)!;
        await waitFor(() => w.readable(ok), { what: `${w.name} (answered ${ok.status}) to be readable`, timeoutMs: 60_000, intervalMs: 500 });
      }

      if (engine === 'postgres') {
        // The health probe reconnected once, and keeps that one connection.
        for (let i = 0; i < 5; i++) expect((await health(stack.healthUrl('registration')!)).status).toBe(200);
        expect(await healthBackends()).toBe(1);
      }
    },
    600_000,
  );
});
