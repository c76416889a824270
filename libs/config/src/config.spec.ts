import { ConfigError, loadConfig } from './config';

describe('loadConfig', () => {
  it('gives the documented defaults', () => {
    const c = loadConfig({});
    expect(c.http.port).toBe(3000);
    expect(c.kafka.brokers).toEqual(['127.0.0.1:9092']);
    expect(c.staleTokenJob).toEqual({ intervalMinutes: 60, dryRun: false });
    expect(c.delivery).toEqual({ maxAttempts: 5, retryBaseMs: 1000 });
  });

  it('reads the stale-token job schedule and dry-run switch', () => {
    expect(loadConfig({ STALE_TOKEN_JOB_INTERVAL_MINUTES: '0', STALE_TOKEN_JOB_DRY_RUN: 'true' }).staleTokenJob).toEqual({ intervalMinutes: 0, dryRun: true });
    expect(loadConfig({ STALE_TOKEN_JOB_DRY_RUN: '0' }).staleTokenJob.dryRun).toBe(false);
  });

  it('names every bad variable in one error', () => {
    expect(() => loadConfig({ PORT: 'abc', STALE_TOKEN_JOB_DRY_RUN: 'maybe' })).toThrow(ConfigError);
    try {
      loadConfig({ PORT: 'abc', STALE_TOKEN_JOB_DRY_RUN: 'maybe' });
    } catch (err) {
      expect((err as Error).message).toMatch(/PORT/);
      expect((err as Error).message).toMatch(/STALE_TOKEN_JOB_DRY_RUN/);
    }
  });

  it('requires a connection string for EventStoreDB', () => {
    expect(() => loadConfig({ EVENT_STORE: 'eventstoredb' })).toThrow(/EVENTSTORE_CONNECTION_STRING/);
  });
});
