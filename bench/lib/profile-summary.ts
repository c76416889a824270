/**
 * Where a V8 CPU profile spends its time: self time by function and by module (package or repo
 * directory), top N each.
 *
 *   node -r ./libs/event-store/src/testing/ts-register.js bench/lib/profile-summary.ts <file.cpuprofile> [--top 15]
 */
import * as fs from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  totalMs: number;
  byFunction: { name: string; selfMs: number; share: number }[];
  byModule: { module: string; selfMs: number; share: number }[];
}

/** node_modules/<pkg>, a repo directory (dist/libs/kafka), node:internal, or the V8 bucket ((gc), (idle), ...). */
export function moduleOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const repo = /\/(dist\/(?:libs|services|tools)\/[^/]+)/.exec(url);
  if (repo) return repo[1];
  return url.replace(/^file:\/\//, '');
}

export function summarise(profile: CpuProfile, top = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  const fn = new Map<string, number>();
  const mod = new Map<string, number>();
  let total = 0;
  for (const [id, ms] of self) {
    const { callFrame } = byId.get(id)!;
    if (callFrame.functionName === '(idle)' || callFrame.functionName === '(program)') continue;
    total += ms;
    const file = callFrame.url.split('/').slice(-2).join('/');
    const name = `${callFrame.functionName || '(anonymous)'} ${file ? `${file}:${callFrame.lineNumber + 1}` : ''}`.trim();
    fn.set(name, (fn.get(name) ?? 0) + ms);
    const m = moduleOf(callFrame.url, callFrame.functionName);
    mod.set(m, (mod.get(m) ?? 0) + ms);
  }
  const rank = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, ms]) => ({ k, selfMs: Math.round(ms), share: Math.round((ms / total) * 1000) / 10 }));
  return {
    totalMs: Math.round(total),
    byFunction: rank(fn).map(({ k, ...r }) => ({ name: k, ...r })),
    byModule: rank(mod).map(({ k, ...r }) => ({ module: k, ...r })),
  };
}

if (require.main === module) {
  const file = process.argv[2];
  const i = process.argv.indexOf('--top');
  if (!file) {
    process.stderr.write('usage: profile-summary.ts <file.cpuprofile> [--top N]\n');
    process.exit(2);
  }
  const s = summarise(JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile, i > 0 ? Number(process.argv[i + 1]) : 15);
  process.stdout.write(`${file}: ${s.totalMs} ms on CPU (idle excluded)\n-- by module\n`);
  for (const m of s.byModule) process.stdout.write(`${String(m.selfMs).padStart(8)} ms ${String(m.share).padStart(5)}%  ${m.module}\n`);
  process.stdout.write('-- by function\n');
  for (const f of s.byFunction) process.stdout.write(`${String(f.selfMs).padStart(8)} ms ${String(f.share).padStart(5)}%  ${f.name}\n`);
}
