import { afterFailure, WEBHOOK_MAX_BACKOFF_MS } from './webhook-policy';

const cfg = { retryBaseMs: 1000, retryForMs: 86_400_000 };
const T0 = new Date('2026-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

describe('webhook retries', () => {
  it('backs off from the base, doubling, capped', () => {
    expect(afterFailure(0, T0, T0, cfg, 'http 500')).toEqual({ kind: 'retry', dueAt: at(1000) });
    expect(afterFailure(3, T0, at(10), cfg, 'http 500')).toEqual({ kind: 'retry', dueAt: at(10 + 8000) });
    expect(afterFailure(40, T0, at(10), cfg, 'timeout')).toEqual({ kind: 'retry', dueAt: at(10 + WEBHOOK_MAX_BACKOFF_MS) });
  });

  it('gives up once the delivery has been failing for the retry period', () => {
    expect(afterFailure(20, T0, at(86_400_000 - 1), cfg, 'http 500').kind).toBe('retry');
    expect(afterFailure(20, T0, at(86_400_000), cfg, 'http 500')).toEqual({ kind: 'disable', reason: 'deliveries failed for 86400 s; last: http 500' });
  });
});
