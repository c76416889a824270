import type { DeliveryOutcomeKind, OutcomeCountersV1 } from '@pushledger/contracts';

export interface OutcomeChange {
  before: { outcome: DeliveryOutcomeKind; reason: string | null } | null;
  after: { outcome: DeliveryOutcomeKind; reason: string | null };
}

export type CounterDelta = Omit<OutcomeCountersV1, 'delivered' | 'opened'>;

export const emptyCounters = (): OutcomeCountersV1 => ({ sent: 0, bounced: 0, invalidated: 0, failed: 0, skipped: 0, skippedByReason: {}, delivered: 0, opened: 0 });

/**
 * What the rows a write inserted or changed do to the counters: a new row adds one, a changed outcome moves
 * one from the old to the new. Rows written again unchanged never reach here, so a repeat counts once.
 */
export function counterDelta(changes: OutcomeChange[]): CounterDelta {
  const d: CounterDelta = { sent: 0, bounced: 0, invalidated: 0, failed: 0, skipped: 0, skippedByReason: {} };
  const move = (o: { outcome: DeliveryOutcomeKind; reason: string | null }, by: number) => {
    d[o.outcome] += by;
    if (o.outcome === 'skipped') {
      const reason = o.reason ?? 'unknown';
      d.skippedByReason[reason] = (d.skippedByReason[reason] ?? 0) + by;
    }
  };
  for (const c of changes) {
    if (c.before && c.before.outcome === c.after.outcome && (c.after.outcome !== 'skipped' || c.before.reason === c.after.reason)) continue;
    if (c.before) move(c.before, -1);
    move(c.after, 1);
  }
  return d;
}

export function isZero(d: CounterDelta): boolean {
  return !d.sent && !d.bounced && !d.invalidated && !d.failed && !d.skipped && Object.values(d.skippedByReason).every((v) => v === 0);
}

/** Adds the per-reason deltas to the stored map, dropping reasons that fall to zero. */
export function mergeReasons(stored: Record<string, number>, delta: Record<string, number>): Record<string, number> {
  const out = { ...stored };
  for (const [k, v] of Object.entries(delta)) {
    const n = (out[k] ?? 0) + v;
    if (n) out[k] = n;
    else delete out[k];
  }
  return out;
}
