// Runs the Web Push service simulator as its own process:
//   node scripts/run.js dist/tools/webpush-simulator/main.js [--port 0] [--host 127.0.0.1] [--cert-dir DIR]
// Prints one JSON line {"url","caFile","vapidFile","pid"} on stdout once it listens: vapidFile holds the VAPID keys
// apps without their own sign with (PUSHLEDGER_WEBPUSH_SIMULATOR_VAPID_FILE). `POST {url}/subscriptions` makes a
// subscription as a browser's pushManager.subscribe() would; `GET {url}/received/{id}` shows what reached it, decrypted.
import { WebPushSimulator } from '@pushledger/webpush';
import { argOf, numberArg, runSimulator } from '../simulator-process';

runSimulator(
  'webpush-simulator',
  () => WebPushSimulator.start({ port: numberArg('port') ?? 0, host: argOf('host') ?? '127.0.0.1', certDir: argOf('cert-dir') }),
  (sim) => ({ url: sim.url, caFile: sim.caFile, vapidFile: sim.standInVapidFile }),
);
