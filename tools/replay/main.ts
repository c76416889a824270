/**
 * Replay: an app's stored history as NDJSON or CSV (stdout or --out file), or republished to a Kafka topic
 * (keyed by stream). Reads the global log lazily in bounded batches; personal data and tokens are
 * decrypted where their keys still exist (erased ones read as null). Progress goes to stderr, ending with
 * the last position handled, which `--after` resumes from.
 *
 *   npm run replay -- --app <appId> [--from <ISO>] [--to <ISO>] [--types A,B] [--stream <streamId>]
 *                     [--format ndjson|csv] [--out <file> | --topic <name>] [--after <position>] [--redact]
 *
 * Engines come from @pushledger/config (EVENT_STORE, POSTGRES_URL / EVENTSTORE_CONNECTION_STRING, KAFKA_BROKERS and the KAFKA_SSL / KAFKA_SASL_* settings).
 */
import { once } from 'events';
import * as fs from 'fs';
import { logLevel, Partitioners, type Producer } from 'kafkajs';
import { loadConfig, type PushledgerConfig } from '@pushledger/config';
import { createKafka, ensureTopics } from '@pushledger/kafka';
import { createPrivateEventStore } from '@pushledger/privacy';
import { csvHeader, csvRow, ndjsonLine, parseReplayArgs, runReplay, USAGE, UsageError, type ReplayOptions, type ReplayProgress, type ReplayRecord, type ReplaySink } from './replay';

const KAFKA_CHUNK = 500;

async function writableSink(out: NodeJS.WritableStream, format: ReplayOptions['format'], header: boolean, closeAtEnd: boolean): Promise<ReplaySink> {
  let failed: Error | undefined;
  out.on('error', (err: Error) => (failed = err));
  const put = async (text: string) => {
    if (failed) throw failed;
    if (!out.write(text)) await Promise.race([once(out, 'drain'), once(out, 'error')]);
    if (failed) throw failed;
  };
  if (format === 'csv' && header) await put(csvHeader());
  const line = format === 'csv' ? csvRow : ndjsonLine;
  return {
    write: (records) => put(records.map(line).join('')),
    close: async () => {
      if (!closeAtEnd) return;
      const done = once(out, 'finish');
      out.end();
      await done;
    },
  };
}

async function fileSink(file: string, options: ReplayOptions): Promise<ReplaySink> {
  // Resuming appends to the same file (a CSV header only for a new or empty one).
  const append = options.after !== undefined && fs.existsSync(file);
  const header = !append || fs.statSync(file).size === 0;
  const out = fs.createWriteStream(file, { flags: append ? 'a' : 'w' });
  await once(out, 'open');
  return writableSink(out, options.format, header, true);
}

async function topicSink(topic: string, config: PushledgerConfig, clientId: string): Promise<ReplaySink> {
  const kafka = createKafka(config, clientId, undefined, { logLevel: logLevel.ERROR });
  await ensureTopics(kafka, [topic], -1);
  const producer: Producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  return {
    async write(records: ReplayRecord[]) {
      for (let i = 0; i < records.length; i += KAFKA_CHUNK) {
        await producer.send({
          topic,
          acks: -1,
          messages: records.slice(i, i + KAFKA_CHUNK).map((r) => ({
            key: r.stream,
            value: JSON.stringify(r),
            headers: { 'event-id': r.eventId, 'event-type': r.type, stream: r.stream, position: r.position, 'content-type': 'application/json' },
          })),
        });
      }
    },
    close: () => producer.disconnect(),
  };
}

const say = (line: string) => process.stderr.write(`replay: ${line}\n`);

async function main(): Promise<number> {
  let options: ReplayOptions;
  try {
    options = parseReplayArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    if (err.message) process.stderr.write(`${err.message}\n`);
    process.stderr.write(`${USAGE}\n`);
    return err.message ? 2 : 0;
  }
  const config = loadConfig();
  const store = await createPrivateEventStore(config, { poolSize: 2, keyPoolSize: 2 });
  let stop = false;
  const onSignal = () => (stop = true);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const progress: ReplayProgress = { scanned: 0, written: 0, lastPosition: undefined };
  const started = Date.now();
  const ticker = setInterval(() => {
    const rate = Math.round(progress.scanned / ((Date.now() - started) / 1000));
    say(`scanned ${progress.scanned}, written ${progress.written}, position ${progress.lastPosition ?? '-'} (${rate} events/s)`);
  }, 2000);
  ticker.unref();
  let sink: ReplaySink | undefined;
  try {
    sink = options.topic
      ? await topicSink(options.topic, config, `${config.kafka.clientId}-replay`)
      : options.out
        ? await fileSink(options.out, options)
        : await writableSink(process.stdout, options.format, options.after === undefined, false);
    const streamAliases = options.stream ? [await store.storedStreamName(options.stream)] : [];
    await runReplay({ store, options, sink, streamAliases, stopRequested: () => stop, progress });
    await sink.close();
    sink = undefined;
  } finally {
    clearInterval(ticker);
    await sink?.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    const seconds = (Date.now() - started) / 1000;
    const at = progress.lastPosition ?? options.after;
    say(
      `${stop ? 'stopped' : 'done'}: ${progress.written} events written, ${progress.scanned} scanned in ${seconds.toFixed(1)} s` +
        (at !== undefined ? `; last position ${at} (resume with --after ${at})` : ''),
    );
  }
  return stop ? 130 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    say(`failed: ${err.message}`);
    process.exit(1);
  },
);
