export const HOUR_MS = 60 * 60 * 1000;
export const DAY_MS = 24 * HOUR_MS;

/**
 * DeviceSeen is recorded at most once per this interval per device: hot apps open many times an
 * hour, while staleness is judged in days.
 */
export const SEEN_GRANULARITY_MS = HOUR_MS;

export const msSince = (iso: string, now: Date): number => now.getTime() - Date.parse(iso);

/** Not seen for `staleAfterDays` whole days (inclusive: exactly at the boundary counts as stale). */
export const isPastStaleWindow = (lastSeenAt: string, now: Date, staleAfterDays: number): boolean =>
  msSince(lastSeenAt, now) >= staleAfterDays * DAY_MS;

/** ISO strings from toISOString() compare correctly as text; parse anyway to accept any ISO form. */
export const laterOf = (a: string, b: string): string => (Date.parse(b) > Date.parse(a) ? b : a);
