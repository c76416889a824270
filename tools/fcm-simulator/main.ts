// Runs the FCM simulator as its own process:
//   node scripts/run.js dist/tools/fcm-simulator/main.js [--port 8443] [--host 127.0.0.1] [--cert-dir DIR]
//        [--latency-ms N] [--quota MESSAGES/WINDOW_MS] [--unavailable-retry-after S] [--quota-retry-after S]
// Env fallbacks: FCM_SIM_PORT, FCM_SIM_HOST, FCM_SIM_CERT_DIR, FCM_SIM_LATENCY_MS, FCM_SIM_QUOTA.
// Prints one JSON line {"url","caFile","pid"} on stdout once it listens.
import { FcmSimulator, type FcmSimulatorOptions } from '@pushledger/fcm';

function arg(name: string, env: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  const inline = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (inline) return inline.slice(name.length + 3);
  return process.env[env];
}

function num(name: string, env: string): number | undefined {
  const v = arg(name, env);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got ${v}`);
  return n;
}

async function main(): Promise<void> {
  const options: FcmSimulatorOptions = {
    port: num('port', 'FCM_SIM_PORT') ?? 0,
    host: arg('host', 'FCM_SIM_HOST') ?? '127.0.0.1',
    certDir: arg('cert-dir', 'FCM_SIM_CERT_DIR'),
    latencyMs: num('latency-ms', 'FCM_SIM_LATENCY_MS'),
    unavailableRetryAfterSeconds: num('unavailable-retry-after', 'FCM_SIM_UNAVAILABLE_RETRY_AFTER'),
    quotaRetryAfterSeconds: num('quota-retry-after', 'FCM_SIM_QUOTA_RETRY_AFTER'),
  };
  const quota = arg('quota', 'FCM_SIM_QUOTA');
  if (quota) {
    const [messages, windowMs] = quota.split('/').map(Number);
    if (!(messages > 0) || !(windowMs > 0)) throw new Error(`--quota must be MESSAGES/WINDOW_MS, got ${quota}`);
    options.quota = { messages, windowMs };
  }
  const sim = await FcmSimulator.start(options);
  process.stdout.write(`${JSON.stringify({ url: sim.url, caFile: sim.caFile, pid: process.pid })}\n`);
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
  process.stderr.write(`fcm-simulator: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
