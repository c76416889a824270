import { publicHealth, runChecks } from './health';

describe('health report', () => {
  it('gives each dependency a state; the public form drops latencies and error text', async () => {
    const report = await runChecks({
      kafka: async () => undefined,
      postgres: async () => {
        throw new Error('connect ECONNREFUSED 10.1.2.3:5432 (user pushledger)');
      },
    });
    expect(report.status).toBe('degraded');
    expect(report.dependencies.kafka).toEqual({ status: 'ok', latencyMs: expect.any(Number) });
    expect(report.dependencies.postgres).toEqual({ status: 'degraded', latencyMs: expect.any(Number), error: expect.stringContaining('ECONNREFUSED') });
    const shown = publicHealth(report);
    expect(shown).toEqual({ status: 'degraded', dependencies: { kafka: 'ok', postgres: 'degraded' } });
    expect(JSON.stringify(shown)).not.toMatch(/ECONNREFUSED|10\.1\.2\.3|pushledger|latency/);
  });

  it('is ok when every dependency is', async () => {
    expect(publicHealth(await runChecks({ a: async () => undefined, b: async () => undefined }))).toEqual({ status: 'ok', dependencies: { a: 'ok', b: 'ok' } });
  });

  it('counts a probe that hangs as degraded after the timeout', async () => {
    const report = await runChecks({ stuck: () => new Promise<void>(() => undefined) }, 50);
    expect(report.dependencies.stuck).toMatchObject({ status: 'degraded', error: 'timed out after 50 ms' });
  });
});
