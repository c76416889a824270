/** Nearest-rank percentile of an ascending array (0 for an empty one). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))];
}

export function round(x: number | undefined | null, digits = 1): number | null {
  if (x === undefined || x === null || !Number.isFinite(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** p50/p90/p99/max of latencies in ms (sorts a copy). */
export function latencySummary(latenciesMs: readonly number[], digits = 2): { p50: number | null; p90: number | null; p99: number | null; max: number | null } {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  return { p50: round(percentile(sorted, 0.5), digits), p90: round(percentile(sorted, 0.9), digits), p99: round(percentile(sorted, 0.99), digits), max: round(sorted.at(-1), digits) };
}
