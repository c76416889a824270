/**
 * Projector process: keeps the MongoDB read models (devices, users) in step with the event store's
 * device- and user- streams, from its checkpoint, and follows a rebuilt generation once it is activated.
 *
 *   node scripts/run.js dist/tools/projector/main.js [--partitions <n>] [--cache <documents>]
 *
 * Run as many as you like: one leads (a PostgreSQL advisory lock in the database at POSTGRES_URL, which the
 * eventstoredb mode needs too for its key store), the others wait and take over from the checkpoint when its
 * connection ends.
 * `--partitions` only matters for the very first generation (default 32 on FerretDB, 1 on MongoDB).
 * Engines come from @pushledger/config (EVENT_STORE, POSTGRES_URL / EVENTSTORE_CONNECTION_STRING, MONGODB_URI).
 */
import { loadConfig } from '@pushledger/config';
import { createPrivateEventStore } from '@pushledger/privacy';
import { keepAliveAsLeader, PostgresLeaderLock } from '@pushledger/event-store';
import { dbOf, Projector, type ProjectorLogger } from '@pushledger/read-models';
import mongoose from 'mongoose';

function numberArg(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} needs a positive integer`);
  return n;
}

async function main(): Promise<void> {
  const config = loadConfig();
  const quiet = config.logLevel === 'warn' || config.logLevel === 'error' || config.logLevel === 'silent';
  const logger: ProjectorLogger = {
    info: (message, fields) => {
      if (!quiet) process.stdout.write(JSON.stringify({ level: 'info', service: 'projector', message, ...fields }) + '\n');
    },
    error: (message, fields) => {
      if (config.logLevel !== 'silent') process.stderr.write(JSON.stringify({ level: 'error', service: 'projector', message, ...fields }) + '\n');
    },
  };
  // An engine away (PostgreSQL, FerretDB) costs a wait and a fresh start from the checkpoint, never the process.
  let current: Projector | undefined;
  // One leader per read-model database: projectors of other databases over the same store are independent.
  const database = /^[^/]*\/\/[^/]*\/([^?]*)/.exec(config.mongodbUri)?.[1] || 'default';
  const lock = new PostgresLeaderLock({ connectionString: config.eventStore.postgresUrl, name: `projector.${database}`, applicationName: `pushledger-projector pid=${process.pid}` });
  const alive = keepAliveAsLeader(
    lock,
    async () => {
      // Large pages when catching up: more facts per document write (FerretDB scans its collection on every write).
      const store = await createPrivateEventStore(config, { poolSize: 4, polling: { pageSize: 2000 } });
      const connection = mongoose.createConnection(config.mongodbUri, { serverSelectionTimeoutMS: 10000, maxPoolSize: 16 });
      const stop = async () => {
        await current?.stop().catch(() => undefined);
        await store.close().catch(() => undefined);
        await connection.close().catch(() => undefined);
      };
      try {
        current = new Projector(store, await dbOf(connection), { partitions: numberArg('partitions'), cacheSize: numberArg('cache'), logger });
        await current.start();
        return { done: current.done, stop };
      } catch (err) {
        await stop();
        throw err;
      }
    },
    {
      onFailure: (err, attempt, retryInMs) => logger.error('projector stopped on error; starting again from its checkpoint', { error: err.message, attempt, retryInMs }),
      onLeading: () => logger.info('projector leading', { pid: process.pid }),
    },
  );
  logger.info('projector waiting for the lead', { pid: process.pid });

  let last = 0;
  const progress = setInterval(() => {
    const p = current?.progress;
    if (p && p.events !== last) logger.info('progress', { generation: current?.activeGeneration?.id, events: p.events, position: p.position.toString() });
    last = p?.events ?? last;
  }, 10000);
  progress.unref();

  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await alive.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
}

main().catch((err: Error) => {
  process.stderr.write(JSON.stringify({ level: 'error', service: 'projector', message: 'projector failed to start', error: err.message }) + '\n');
  process.exit(1);
});
