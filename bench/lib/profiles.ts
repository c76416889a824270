import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot, waitFor, type Stack, type StackPart } from '@pushledger/testing';
import { summarise } from './profile-summary';

/** The environment that makes a stack's services profilable (bench/lib/cpu-profiler.preload.js); none without a directory. */
export function profilingEnv(dir: string | undefined): Record<string, string> {
  if (!dir) return {};
  return { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${path.join(repoRoot, 'bench/lib/cpu-profiler.preload.js')}`.trim(), PUSHLEDGER_CPU_PROFILE_DIR: dir };
}

/**
 * Starts the services' CPU profilers (no label) or stops them and collects the profiles as
 * `<label>-<service>.cpuprofile`, logging a summary of the `summarised` services.
 */
export async function toggleProfiles(stack: Stack, dir: string | undefined, log: (line: string) => void, label?: string, summarised: StackPart[] = []): Promise<void> {
  if (!dir) return;
  const pids = new Map([...stack.procs].filter(([, p]) => p.child.pid).map(([part, p]) => [p.child.pid!, part]));
  const before = new Set(fs.existsSync(dir) ? fs.readdirSync(dir) : []);
  for (const pid of pids.keys()) process.kill(pid, 'SIGWINCH');
  if (!label) return;
  const written = await waitFor(
    async () => {
      const fresh = fs.readdirSync(dir).filter((f) => !before.has(f) && f.startsWith('cpu-'));
      return fresh.length >= pids.size ? fresh : undefined;
    },
    { timeoutMs: 30000, what: 'CPU profiles' },
  ).catch(() => fs.readdirSync(dir).filter((f) => !before.has(f) && f.startsWith('cpu-')));
  for (const f of written) {
    const pid = Number(/^cpu-(\d+)-/.exec(f)?.[1]);
    const target = path.join(dir, `${label}-${pids.get(pid) ?? pid}.cpuprofile`);
    fs.renameSync(path.join(dir, f), target);
    const part = pids.get(pid);
    if (!part || !summarised.includes(part)) continue;
    const s = summarise(JSON.parse(fs.readFileSync(target, 'utf8')), 12);
    log(`  profile ${label} ${part}: ${s.totalMs} ms on CPU -> ${path.relative(process.cwd(), target)}`);
    log(`    modules:   ${s.byModule.map((m) => `${m.module} ${m.share}%`).join(', ')}`);
    for (const fn of s.byFunction) log(`    ${String(fn.share).padStart(5)}%  ${fn.name}`);
  }
}
