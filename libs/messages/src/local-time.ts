/**
 * "Send at 09:00 in each user's time zone": a broadcast scheduled with `localTime` goes out in waves, one per
 * distinct UTC instant at which some time zone's wall clock shows the scheduled wall-clock time. The
 * scheduled `at` is read as a wall-clock time (its UTC fields); devices without a time zone, or with one the
 * time-zone database does not know, go with the UTC wave, i.e. at `at` itself.
 */
export interface LocalTimeWave {
  /** When this wave is due (ISO). Also its key: distinct per wave of one send. */
  dueAt: string;
  /** The scheduled wall-clock time (as UTC fields). */
  wallClock: string;
  /** The canonical zones whose wall clock shows the scheduled time at `dueAt` (aliases join them: see inWave). */
  zones: ReadonlySet<string>;
  /** The wave that also takes devices with no (or an unknown) time zone. */
  fallback: boolean;
}

const ZONES: readonly string[] = [...new Set([...Intl.supportedValuesOf('timeZone'), 'UTC'])];
const formatters = new Map<string, Intl.DateTimeFormat | null>();

/** A formatter for the zone; null when the time-zone database does not know it (aliases like Asia/Kolkata are known). */
function formatterOf(zone: string): Intl.DateTimeFormat | null {
  let f = formatters.get(zone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' });
    } catch {
      f = null;
    }
    if (formatters.size > 10_000) formatters.clear();
    formatters.set(zone, f);
  }
  return f;
}

/** The zone's offset from UTC at an instant, in minutes (east positive). */
export function offsetMinutes(zone: string, at: Date): number {
  const f = formatterOf(zone);
  if (!f) return 0;
  const name = f.formatToParts(at).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const m = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
  return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
}

/**
 * The instant at which `zone`'s wall clock shows `wall`'s UTC fields. In a spring-forward gap the wall time
 * does not exist and the later offset wins; in a fall-back overlap the first occurrence wins.
 */
export function instantOfWallClock(wall: Date, zone: string): Date {
  const guess = new Date(wall.getTime() - offsetMinutes(zone, wall) * 60_000);
  const first = new Date(wall.getTime() - offsetMinutes(zone, guess) * 60_000);
  const earlier = new Date(wall.getTime() - offsetMinutes(zone, new Date(first.getTime() - 3 * 3600_000)) * 60_000);
  return offsetMinutes(zone, earlier) * 60_000 === wall.getTime() - earlier.getTime() && earlier < first ? earlier : first;
}

/** Every wave of a send scheduled at `at` in local time, earliest first. */
export function localTimeWaves(at: Date): LocalTimeWave[] {
  const byInstant = new Map<string, Set<string>>();
  for (const zone of ZONES) {
    const due = instantOfWallClock(at, zone).toISOString();
    if (!byInstant.has(due)) byInstant.set(due, new Set());
    byInstant.get(due)!.add(zone);
  }
  const fallbackAt = at.toISOString();
  const wallClock = at.toISOString();
  return [...byInstant.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([dueAt, zones]) => ({ dueAt, wallClock, zones, fallback: dueAt === fallbackAt }));
}

/** Whether a device with this time zone belongs to the wave. */
export function inWave(wave: LocalTimeWave, timezone: string | null): boolean {
  if (timezone === null || !formatterOf(timezone)) return wave.fallback;
  return wave.zones.has(timezone) || instantOfWallClock(new Date(wave.wallClock), timezone).toISOString() === wave.dueAt;
}
