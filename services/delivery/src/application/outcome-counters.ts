import type { DeliveryOutcomeKind, OutcomeCountersV1 } from '@pushledger/contracts';

export interface OutcomeChange {
  /** `at`: when the previous outcome was recorded (for the daily counts). */
  before: { outcome: DeliveryOutcomeKind; reason: string | null; at?: Date } | null;
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
    if (unchanged(c)) continue;
    if (c.before) move(c.before, -1);
    move(c.after, 1);
  }
  return d;
}

const unchanged = (c: OutcomeChange): boolean => c.before !== null && c.before.outcome === c.after.outcome && (c.after.outcome !== 'skipped' || c.before.reason === c.after.reason);

export type DayDelta = Record<DeliveryOutcomeKind, number>;
const utcDay = (at: Date): string => at.toISOString().slice(0, 10);

/**
 * The same moves per UTC day: a new outcome counts on the day it is recorded (`at`); a changed one also
 * leaves the day its previous outcome was recorded. Days in ascending order, so writers lock their rows in one order.
 */
export function dailyDelta(changes: OutcomeChange[], at: Date): [string, DayDelta][] {
  const days = new Map<string, DayDelta>();
  const move = (day: string, outcome: DeliveryOutcomeKind, by: number) => {
    const d = days.get(day) ?? { sent: 0, bounced: 0, invalidated: 0, failed: 0, skipped: 0 };
    d[outcome] += by;
    days.set(day, d);
  };
  for (const c of changes) {
    if (unchanged(c)) continue;
    if (c.before) move(utcDay(c.before.at ?? at), c.before.outcome, -1);
    move(utcDay(at), c.after.outcome, 1);
  }
  return [...days.entries()].filter(([, d]) => Object.values(d).some((v) => v !== 0)).sort(([a], [b]) => a.localeCompare(b));
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
