// Runs the APNs simulator as its own process:
//   node scripts/run.js dist/tools/apns-simulator/main.js [--port 0] [--host 127.0.0.1] [--cert-dir DIR]
// Prints one JSON line {"url","caFile","keyFile","pid"} on stdout once it listens: keyFile is the .p8 of its
// own key, which apps without APNs credentials sign with (PUSHLEDGER_APNS_SIMULATOR_KEY_FILE).
import { join } from 'node:path';
import { ApnsSimulator } from '@pushledger/apns';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const certDir = arg('cert-dir');
  const sim = await ApnsSimulator.start({ port: Number(arg('port') ?? 0), host: arg('host') ?? '127.0.0.1', certDir });
  const keyFile = certDir ? join(certDir, 'stand-in-key.p8') : undefined;
  process.stdout.write(`${JSON.stringify({ url: sim.url, caFile: sim.caFile, keyFile, pid: process.pid })}\n`);
  const stop = (): void => {
    sim.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`apns-simulator: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
