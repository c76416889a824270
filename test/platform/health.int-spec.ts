import { randomBytes } from 'crypto';
import { Client } from 'pg';
import { createTestDatabase, freePort, RunningProcess, startService, testConfig, waitFor } from '@pushledger/testing';

/**
 * /health as anyone sees it (states only) and as the admin sees it (latencies, error text); one PostgreSQL connection for all probes.
 * Probed on the campaign service: it has all three dependencies (the gateway no longer touches PostgreSQL).
 */
describe('GET /health', () => {
  const adminToken = `adm_${randomBytes(16).toString('hex')}`;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const procs: RunningProcess[] = [];
  let healthy: string;

  beforeAll(async () => {
    db = await createTestDatabase('health');
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await db?.drop();
  });

  /** A campaign service on its own port; resolves once /health answers at all (200 or 503). */
  async function service(env: Record<string, string>, name: 'campaign' | 'gateway' = 'campaign'): Promise<string> {
    const port = await freePort();
    const proc = startService(name, { [name === 'gateway' ? 'PORT' : 'SERVICE_PORT']: String(port), POSTGRES_URL: db.url, PUSHLEDGER_ADMIN_TOKEN: adminToken, ...env });
    procs.push(proc);
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${url}/health`).catch(() => null)) !== null, { what: `the service to answer (logs: ${proc.logs().slice(-2000)})`, timeoutMs: 60000 });
    return url;
  }

  const get = async (url: string, token?: string) => {
    const res = await fetch(`${url}/health`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.status, text: await res.text() };
  };

  /** The backends of the service's health probe in the suite's database. */
  async function healthBackends(): Promise<{ pid: number; backend_start: Date }[]> {
    const c = new Client({ connectionString: testConfig().eventStore.postgresUrl });
    await c.connect();
    try {
      const { rows } = await c.query('select pid, backend_start from pg_stat_activity where datname = $1 and application_name = $2', [db.name, 'pushledger-campaign-health']);
      return rows;
    } finally {
      await c.end();
    }
  }

  it('shows anyone each dependency as ok or degraded, and the admin token its latency', async () => {
    const url = (healthy = await service({}));
    await waitFor(async () => (await get(url)).status === 200, { what: 'a healthy service', timeoutMs: 60000 });
    const shown = await get(url);
    expect(JSON.parse(shown.text)).toEqual({ service: 'campaign', status: 'ok', dependencies: { kafka: 'ok', postgres: 'ok', mongo: 'ok' } });
    // Another token of the same length is anyone.
    expect(JSON.parse((await get(url, `adm_${randomBytes(16).toString('hex')}`)).text)).toEqual(JSON.parse(shown.text));
    const admin = JSON.parse((await get(url, adminToken)).text);
    expect(admin).toMatchObject({ service: 'campaign', status: 'ok' });
    for (const name of ['kafka', 'postgres', 'mongo']) expect(admin.dependencies[name]).toEqual({ status: 'ok', latencyMs: expect.any(Number) });
  });

  it('probes PostgreSQL over one connection it keeps, not a new one per call', async () => {
    const url = healthy;
    expect((await get(url)).status).toBe(200);
    const before = await healthBackends();
    expect(before).toHaveLength(1);
    for (let i = 0; i < 10; i++) expect((await get(url)).status).toBe(200);
    expect(await healthBackends()).toEqual(before);
  });

  it("tells anyone a dependency is degraded without its error text; the admin token gets the error", async () => {
    // A gateway whose app directory cannot load: no registration service runs here to list the apps.
    const url = await service({}, 'gateway');
    const shown = await waitFor(async () => {
      const r = await get(url);
      return r.status === 503 && r;
    }, { what: 'a degraded service', timeoutMs: 60000 });
    expect(JSON.parse(shown.text)).toEqual({ service: 'gateway', status: 'degraded', dependencies: { apps: 'degraded', kafka: 'ok', mongo: 'ok' } });
    expect(shown.text).not.toMatch(/error|latency|ECONNREFUSED|not connected|timed out|127\.0\.0\.1/i);
    const admin = JSON.parse((await get(url, adminToken)).text);
    expect(admin.dependencies.apps).toEqual({ status: 'degraded', latencyMs: expect.any(Number), error: expect.any(String) });
    expect(admin.dependencies.apps.error.length).toBeGreaterThan(0);
  });
});

