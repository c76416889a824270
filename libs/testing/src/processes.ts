import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';
import * as fs from 'fs';

export const repoRoot = path.resolve(__dirname, '../../..');

export interface RunningProcess {
  name: string;
  child: ChildProcess;
  logs(): string;
  kill(signal?: NodeJS.Signals): void;
  stop(): Promise<void>;
  exited: Promise<number | null>;
}

/** Starts a compiled entry point (from dist/, built by `npm test` before Jest runs) as a real process. */
export function startProcess(name: string, distEntry: string, env: Record<string, string> = {}, args: string[] = []): RunningProcess {
  const entry = path.join('dist', distEntry);
  if (!fs.existsSync(path.join(repoRoot, entry))) throw new Error(`${entry} is missing: run \`npm run build\` first`);
  const child = spawn(process.execPath, [path.join(repoRoot, 'scripts/run.js'), entry, ...args], {
    cwd: repoRoot,
    env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (b: Buffer) => {
    output += b.toString('utf8');
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    name,
    child,
    logs: () => output,
    kill: (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(t);
    },
    exited,
  };
}

export function startService(name: 'gateway' | 'registration' | 'identity' | 'campaign' | 'delivery', env: Record<string, string> = {}): RunningProcess {
  return startProcess(name, `services/${name}/src/main.js`, env);
}

export async function freePort(): Promise<number> {
  const net = await import('net');
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/**
 * Whether process `pid` holds the listening TCP socket on `port` (read from /proc; true where there is none). A free
 * port is only free when picked: another suite's process may take it first, and then answers our health probes.
 */
export function listensOn(pid: number, port: number): boolean {
  const inodes = new Set<string>();
  let readable = false;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    readable = true;
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local address (hex ip:port), state 0A = LISTEN, inode in the tenth column
      if (cols.length > 9 && cols[3] === '0A' && parseInt(cols[1].split(':')[1], 16) === port) inodes.add(cols[9]);
    }
  }
  if (!readable) return true;
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  return fds.some((fd) => {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      return m !== null && inodes.has(m[1]);
    } catch {
      return false;
    }
  });
}
