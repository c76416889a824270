// Runs the FCM simulator as its own process:
//   node scripts/run.js dist/tools/fcm-simulator/main.js [--port 8443] [--host 127.0.0.1] [--cert-dir DIR]
//        [--latency-ms N] [--quota MESSAGES/WINDOW_MS] [--unavailable-retry-after S] [--quota-retry-after S]
// Env fallbacks: FCM_SIM_PORT, FCM_SIM_HOST, FCM_SIM_CERT_DIR, FCM_SIM_LATENCY_MS, FCM_SIM_QUOTA.
// Prints one JSON line {"url","caFile","pid"} on stdout once it listens.
import { FcmSimulator, type FcmSimulatorOptions } from '@pushledger/fcm';
import { argOf, numberArg, runSimulator } from '../simulator-process';

function options(): FcmSimulatorOptions {
  const o: FcmSimulatorOptions = {
    port: numberArg('port', 'FCM_SIM_PORT') ?? 0,
    host: argOf('host', 'FCM_SIM_HOST') ?? '127.0.0.1',
    certDir: argOf('cert-dir', 'FCM_SIM_CERT_DIR'),
    latencyMs: numberArg('latency-ms', 'FCM_SIM_LATENCY_MS'),
    unavailableRetryAfterSeconds: numberArg('unavailable-retry-after', 'FCM_SIM_UNAVAILABLE_RETRY_AFTER'),
    quotaRetryAfterSeconds: numberArg('quota-retry-after', 'FCM_SIM_QUOTA_RETRY_AFTER'),
  };
  const quota = argOf('quota', 'FCM_SIM_QUOTA');
  if (quota) {
    const [messages, windowMs] = quota.split('/').map(Number);
    if (!(messages > 0) || !(windowMs > 0)) throw new Error(`--quota must be MESSAGES/WINDOW_MS, got ${quota}`);
    o.quota = { messages, windowMs };
  }
  return o;
}

runSimulator('fcm-simulator', () => FcmSimulator.start(options()), (sim) => ({ url: sim.url, caFile: sim.caFile }));
