// Runs the APNs simulator as its own process:
//   node scripts/run.js dist/tools/apns-simulator/main.js [--port 0] [--host 127.0.0.1] [--cert-dir DIR]
// Prints one JSON line {"url","caFile","keyFile","pid"} on stdout once it listens: keyFile is the .p8 of its
// own key, which apps without APNs credentials sign with (PUSHLEDGER_APNS_SIMULATOR_KEY_FILE).
import { join } from 'node:path';
import { ApnsSimulator } from '@pushledger/apns';
import { argOf, numberArg, runSimulator } from '../simulator-process';

const certDir = argOf('cert-dir');
runSimulator(
  'apns-simulator',
  () => ApnsSimulator.start({ port: numberArg('port') ?? 0, host: argOf('host') ?? '127.0.0.1', certDir }),
  (sim) => ({ url: sim.url, caFile: sim.caFile, keyFile: certDir ? join(certDir, 'stand-in-key.p8') : undefined }),
);
