// Runs the Web Push service simulator as its own process:
//   node scripts/run.js dist/tools/webpush-simulator/main.js [--port 0] [--host 127.0.0.1] [--cert-dir DIR]
// Prints one JSON line {"url","caFile","vapidFile","pid"} on stdout once it listens: vapidFile holds the VAPID keys
// apps without their own sign with (PUSHLEDGER_WEBPUSH_SIMULATOR_VAPID_FILE). `POST {url}/subscriptions` makes a
// subscription as a browser's pushManager.subscribe() would; `GET {url}/received/{id}` shows what reached it, decrypted.
import { WebPushSimulator } from '@pushledger/webpush';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const sim = await WebPushSimulator.start({ port: Number(arg('port') ?? 0), host: arg('host') ?? '127.0.0.1', certDir: arg('cert-dir') });
  process.stdout.write(`${JSON.stringify({ url: sim.url, caFile: sim.caFile, vapidFile: sim.standInVapidFile, pid: process.pid })}\n`);
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
  process.stderr.write(`webpush-simulator: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
