// What the simulator mains share: arguments, the one JSON line that tells a parent where the simulator
// listens (scripts/start.js reads it), and a clean stop on SIGINT or SIGTERM.

/** `--name value` or `--name=value`; else the environment variable `env`, when named. */
export function argOf(name: string, env?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  const inline = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (inline) return inline.slice(name.length + 3);
  return env ? process.env[env] : undefined;
}

export function numberArg(name: string, env?: string): number | undefined {
  const v = argOf(name, env);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got ${v}`);
  return n;
}

/** Starts the simulator, prints `{ ...describe(sim), pid }` as one line once it listens, and stops it on a signal. */
export function runSimulator<S extends { stop(): Promise<void> }>(name: string, start: () => Promise<S>, describe: (sim: S) => Record<string, unknown>): void {
  Promise.resolve()
    .then(start)
    .then((sim) => {
      process.stdout.write(`${JSON.stringify({ ...describe(sim), pid: process.pid })}\n`);
      const stop = (): void => {
        sim.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    })
    .catch((err: unknown) => {
      process.stderr.write(`${name}: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    });
}
