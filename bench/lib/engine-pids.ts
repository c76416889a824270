import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '@pushledger/testing';

export type Engine = 'postgres' | 'kafka' | 'ferretdb';

const TCP_LISTEN = '0A';

/**
 * The pid of a local engine: from deploy/local/infra.sh's pid file (`<data dir>/run/<engine>.pid`) when
 * it names a live process, else the process listening on `port` (a worktree has no `.data` of its own
 * and talks to engines another checkout started); undefined when neither is found.
 */
export function enginePid(engine: Engine, port: number): number | undefined {
  const dir = process.env.PUSHLEDGER_DATA_DIR ?? path.join(repoRoot, '.data');
  try {
    const pid = Number(fs.readFileSync(path.join(dir, 'run', `${engine}.pid`), 'utf8').trim());
    if (pid > 0 && fs.existsSync(`/proc/${pid}/stat`)) return pid;
  } catch {
    // no pid file: look for the listener
  }
  return listenerPid(port);
}

/** The process holding a listening TCP socket on `port`, from /proc/net/tcp{,6} and the processes' fds. */
export function listenerPid(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== TCP_LISTEN) continue;
      if (parseInt(f[1].split(':')[1], 16) === port) inodes.add(f[9]);
    }
  }
  if (!inodes.size) return undefined;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${entry}/fd/${fd}`));
        if (m && inodes.has(m[1])) return Number(entry);
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}

/** A process's command-line arguments (empty when it is gone or unreadable). */
export function commandLine(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/** The PostgreSQL database FerretDB stores its data in, from its `-postgresql-url` argument (infra.sh's default otherwise). */
export function ferretdbDatabase(pid: number | undefined): string {
  const args = pid ? commandLine(pid) : [];
  const i = args.findIndex((a) => a === '-postgresql-url' || a === '--postgresql-url');
  const url = i >= 0 ? args[i + 1] : args.find((a) => a.startsWith('-postgresql-url='))?.split('=').slice(1).join('=');
  try {
    if (url) return new URL(url).pathname.slice(1) || 'ferretdb';
  } catch {
    // not a URL
  }
  return 'ferretdb';
}
