import type { Client } from 'pg';

export type StatementKind = (query: string) => string;

export interface ActivityReport {
  samples: number;
  /** Share (%) of sampled busy backends by statement kind, and by what they were waiting on ("cpu" = not waiting). */
  byStatement: Record<string, number>;
  byWait: Record<string, number>;
  /** Average number of backends busy on this database. */
  averageActive: number;
}

/**
 * Samples pg_stat_activity for one database every `intervalMs` until stopped: which statements keep
 * the backends busy, and whether they run or wait (a poor man's pg_stat_statements).
 */
export function samplePgActivity(client: Client, kindOf: StatementKind, intervalMs = 20): { stop(): Promise<ActivityReport> } {
  const byStatement = new Map<string, number>();
  const byWait = new Map<string, number>();
  let samples = 0;
  let busy = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const { rows } = await client.query<{ query: string; wait: string | null }>(
        `SELECT query, wait_event_type || ':' || wait_event AS wait FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'`,
      );
      samples++;
      for (const r of rows) {
        busy++;
        const kind = kindOf(r.query);
        byStatement.set(kind, (byStatement.get(kind) ?? 0) + 1);
        const wait = r.wait ?? 'cpu';
        byWait.set(wait, (byWait.get(wait) ?? 0) + 1);
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  const shares = (m: Map<string, number>) => Object.fromEntries([...m.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => [k, Math.round((n / Math.max(1, busy)) * 1000) / 10]));
  return {
    async stop() {
      stopped = true;
      await loop;
      return { samples, byStatement: shares(byStatement), byWait: shares(byWait), averageActive: Math.round((busy / Math.max(1, samples)) * 100) / 100 };
    },
  };
}
