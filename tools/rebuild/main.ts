/**
 * Rebuilds the read models from the whole event store into a fresh generation of collections while the
 * active one keeps serving, then switches readers (and the running projector) to it.
 *
 *   npm run projections:rebuild -- [--partitions <n>] [--flush-every <documents>] [--keep-previous] [--no-activate]
 *
 * Prints one JSON line per flush and a summary. The previous generation is dropped 10 s after the switch
 * unless --keep-previous.
 */
import { loadConfig } from '@pushledger/config';
import { createPrivateEventStore } from '@pushledger/privacy';
import { dbOf, rebuildReadModels } from '@pushledger/read-models';
import mongoose from 'mongoose';

function numberArg(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} needs a positive integer`);
  return n;
}
const flag = (name: string): boolean => process.argv.includes(`--${name}`);

async function main(): Promise<void> {
  const config = loadConfig();
  const store = await createPrivateEventStore(config, { poolSize: 4 });
  const connection = mongoose.createConnection(config.mongodbUri, { serverSelectionTimeoutMS: 10000, maxPoolSize: 16 });
  try {
    const result = await rebuildReadModels(store, await dbOf(connection), {
      partitions: numberArg('partitions'),
      flushEvery: numberArg('flush-every'),
      activate: !flag('no-activate'),
      dropPreviousAfterMs: flag('keep-previous') ? null : 10_000,
      onProgress: (p) => process.stdout.write(JSON.stringify({ message: 'rebuild progress', generation: p.generation, events: p.events, position: p.position.toString(), elapsedMs: p.elapsedMs }) + '\n'),
    });
    process.stdout.write(JSON.stringify({ message: 'rebuild done', ...result, position: result.position.toString() }) + '\n');
  } finally {
    await store.close().catch(() => undefined);
    await connection.close().catch(() => undefined);
  }
}

main().catch((err: Error) => {
  process.stderr.write(JSON.stringify({ level: 'error', service: 'rebuild', message: 'rebuild failed', error: err.message }) + '\n');
  process.exit(1);
});
