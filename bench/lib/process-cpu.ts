import * as fs from 'node:fs';

const USER_HZ = 100;

/** utime+stime of a local process in ms, from /proc; undefined when it is gone or not readable. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
  } catch {
    return undefined;
  }
}

/**
 * CPU used by named groups of processes between `start()` and `stop()`. A group's pids are resolved at
 * both ends (pools open connections during a run), a pid first seen at the end counts from zero.
 */
export class CpuMeter {
  private before = new Map<string, Map<number, number>>();

  constructor(private readonly groups: Record<string, () => number[] | Promise<number[]>>) {}

  async start(): Promise<void> {
    this.before = new Map();
    for (const [name, pids] of Object.entries(this.groups)) {
      const m = new Map<number, number>();
      for (const pid of await pids()) {
        const ms = processCpuMs(pid);
        if (ms !== undefined) m.set(pid, ms);
      }
      this.before.set(name, m);
    }
  }

  /** CPU ms per group since start(); null for a group none of whose processes could be read. */
  async stop(): Promise<Record<string, number | null>> {
    const out: Record<string, number | null> = {};
    for (const [name, pids] of Object.entries(this.groups)) {
      const before = this.before.get(name) ?? new Map<number, number>();
      let total = 0;
      let seen = false;
      for (const pid of new Set([...(await pids()), ...before.keys()])) {
        const now = processCpuMs(pid);
        if (now === undefined) continue;
        seen = true;
        total += now - (before.get(pid) ?? 0);
      }
      out[name] = seen ? total : null;
    }
    return out;
  }
}
