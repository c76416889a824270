import { startProcess } from '@pushledger/testing';

/** Runs the compiled replay CLI (`npm run replay -- ...`) as a process. */
export async function runReplayCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = startProcess('replay', 'tools/replay/main.js', env, args);
  const out: Buffer[] = [];
  let stderr = '';
  p.child.stdout!.on('data', (b: Buffer) => out.push(b));
  p.child.stderr!.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
  const code = await p.exited;
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr };
}

/** The position the CLI says to resume after. */
export function lastPositionOf(stderr: string): string | undefined {
  return /resume with --after (\d+)/.exec(stderr)?.[1];
}
