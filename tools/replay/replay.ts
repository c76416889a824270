/**
 * History replay for analysts: selects stored events of one app from the global log (lazily, page by page)
 * and hands them to a sink in batches. Everything here is independent of where the output goes.
 *
 * Selection: the store filters by stream prefix (the app's streams of every category in StreamCategories,
 * or the one `--stream`) and by type; app (metadata.appId), time (occurredAt) and the exact stream are
 * checked here. Time cannot be pushed down (the log is ordered by position, not occurredAt), so a time
 * window still scans the app's whole history.
 */
import { StreamCategories } from '@pushledger/contracts';
import type { EventStore, StoredEvent } from '@pushledger/event-store';
import { hideCredentials, maskToken, redact } from '@pushledger/observability';

export class UsageError extends Error {}

export interface ReplayOptions {
  appId: string;
  /** Inclusive lower bound on occurredAt. */
  from?: Date;
  /** Exclusive upper bound on occurredAt. */
  to?: Date;
  types?: string[];
  stream?: string;
  format: 'ndjson' | 'csv';
  out?: string;
  topic?: string;
  /** Resume strictly after this global position. */
  after?: bigint;
  /** Mask token fields (as the API does). */
  redact: boolean;
}

/** One stored event as replay writes it (NDJSON line, CSV row, Kafka message value). */
export interface ReplayRecord {
  eventId: string;
  type: string;
  stream: string;
  position: string;
  revision: string;
  occurredAt: string;
  data: unknown;
}

export const USAGE = `usage: npm run replay -- --app <appId> [--from <ISO>] [--to <ISO>] [--types A,B] [--stream <streamId>]
                        [--format ndjson|csv] [--out <file> | --topic <name>] [--after <position>] [--redact]
  --from is inclusive and --to exclusive (on occurredAt); --after resumes after a position printed by an earlier run.`;

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:T([01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** An ISO-8601 date or time (UTC unless it names an offset) whose calendar date exists. */
export function parseInstant(value: string, name: string): Date {
  const m = ISO.exec(value);
  const [y, mo, d] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
  const day = new Date(Date.UTC(y, mo - 1, d));
  const real = m !== null && day.getUTCFullYear() === y && day.getUTCMonth() === mo - 1 && day.getUTCDate() === d;
  const local = m !== null && value.includes('T') && !/(Z|[+-]\d{2}:?\d{2})$/.test(value);
  const t = real ? Date.parse(local ? `${value}Z` : value) : NaN;
  if (Number.isNaN(t)) throw new UsageError(`${name} must be an ISO-8601 time, got "${value}"`);
  return new Date(t);
}

export function parseReplayArgs(argv: string[]): ReplayOptions {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  const valued = new Set(['app', 'from', 'to', 'types', 'stream', 'format', 'out', 'topic', 'after']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument "${a}"`);
    const [name, inline] = a.slice(2).split(/=(.*)/s, 2);
    if (name === 'redact' || name === 'help') {
      flags.add(name);
      continue;
    }
    if (!valued.has(name)) throw new UsageError(`unknown option --${name}`);
    const v = inline ?? argv[++i];
    if (v === undefined || v === '') throw new UsageError(`--${name} needs a value`);
    values.set(name, v);
  }
  if (flags.has('help')) throw new UsageError('');
  const appId = values.get('app');
  if (!appId) throw new UsageError('--app is required');
  const format = values.get('format') ?? 'ndjson';
  if (format !== 'ndjson' && format !== 'csv') throw new UsageError('--format must be ndjson or csv');
  if (values.has('out') && values.has('topic')) throw new UsageError('--out and --topic are exclusive');
  const from = values.has('from') ? parseInstant(values.get('from')!, '--from') : undefined;
  const to = values.has('to') ? parseInstant(values.get('to')!, '--to') : undefined;
  if (from && to && from >= to) throw new UsageError('--from must be before --to');
  const after = values.get('after');
  if (after !== undefined && !/^\d+$/.test(after)) throw new UsageError('--after must be a position (a non-negative integer)');
  const types = values.get('types')?.split(',').map((t) => t.trim()).filter(Boolean);
  if (types && types.length === 0) throw new UsageError('--types needs at least one type');
  return { appId, from, to, types, stream: values.get('stream'), format, out: values.get('out'), topic: values.get('topic'), after: after === undefined ? undefined : BigInt(after), redact: flags.has('redact') };
}

export function toRecord(e: StoredEvent, mask = false): ReplayRecord {
  return {
    eventId: e.eventId,
    type: e.type,
    stream: e.stream,
    position: e.position.toString(),
    revision: e.streamRevision.toString(),
    occurredAt: e.metadata.occurredAt,
    // Only app streams hold credentials and the identity secret's hash; other events pass untouched (replay's throughput).
    data: mask ? withoutWriteOnly(maskTokens(e.data)) : e.stream.startsWith('app-') ? withoutWriteOnly(hideCredentials(e.data)) : e.data,
  };
}

/** Stored for the services' own checks, never for readers: the identity secret's hash proves user ids as the secret does. */
const WRITE_ONLY_FIELDS = ['identitySecretHash'];

function withoutWriteOnly(data: unknown): unknown {
  if (typeof data !== 'object' || data === null || !WRITE_ONLY_FIELDS.some((f) => f in data)) return data;
  return Object.fromEntries(Object.entries(data).filter(([k]) => !WRITE_ONLY_FIELDS.includes(k)));
}

function maskTokens(data: unknown): unknown {
  const out = redact(data);
  if (typeof out === 'object' && out !== null && typeof (out as { previousToken?: unknown }).previousToken === 'string') {
    return { ...out, previousToken: maskToken((out as { previousToken: string }).previousToken) };
  }
  return out;
}

export const CSV_COLUMNS = ['eventId', 'type', 'stream', 'position', 'revision', 'occurredAt', 'data'] as const;

const csvCell = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

export function csvRow(r: ReplayRecord): string {
  return CSV_COLUMNS.map((c) => csvCell(c === 'data' ? JSON.stringify(r.data) : r[c])).join(',') + '\r\n';
}

export const csvHeader = (): string => CSV_COLUMNS.join(',') + '\r\n';

export function ndjsonLine(r: ReplayRecord): string {
  return JSON.stringify(r) + '\n';
}

export interface ReplaySink {
  /** Resolves once the records are durably handed over (written to the stream / acknowledged by Kafka). */
  write(records: ReplayRecord[]): Promise<void>;
  close(): Promise<void>;
}

export interface ReplayProgress {
  scanned: number;
  written: number;
  /** Every event up to here was looked at and each selected one is in the sink: resume with `--after`. */
  lastPosition: bigint | undefined;
}

export interface ReplayRun {
  store: EventStore;
  options: ReplayOptions;
  sink: ReplaySink;
  /** Stored names the `--stream` filter also matches (a user stream's pseudonymised name). */
  streamAliases?: string[];
  batchSize?: number;
  /** Checked between events: true stops the run cleanly after flushing. */
  stopRequested?: () => boolean;
  progress?: ReplayProgress;
}

/** Streams the selection into the sink in bounded batches; returns where it got to. */
export async function runReplay(run: ReplayRun): Promise<ReplayProgress> {
  const { store, options, sink } = run;
  const progress: ReplayProgress = run.progress ?? { scanned: 0, written: 0, lastPosition: undefined };
  const batchSize = run.batchSize ?? 1000;
  const streams = options.stream ? new Set([options.stream, ...(run.streamAliases ?? [])]) : undefined;
  const from = options.from?.getTime();
  const to = options.to?.getTime();
  const filter = { ...(options.types ? { eventTypes: options.types } : {}), streamPrefixes: streams ? [...streams] : appStreamPrefixes(options.appId) };
  let batch: ReplayRecord[] = [];
  let batchEnd: bigint | undefined;
  const flush = async () => {
    if (batch.length) await sink.write(batch);
    progress.written += batch.length;
    batch = [];
    if (batchEnd !== undefined) progress.lastPosition = batchEnd;
  };
  for await (const e of store.readAll({ afterPosition: options.after, filter })) {
    progress.scanned++;
    batchEnd = e.position;
    if (selected(e, options.appId, streams, from, to)) batch.push(toRecord(e, options.redact));
    if (batch.length >= batchSize || progress.scanned % (batchSize * 10) === 0) await flush();
    if (run.stopRequested?.()) break;
  }
  await flush();
  return progress;
}

/** Every stream name carries its app id as second segment (`app-<appId>` for the app itself); the store filters on them. */
export function appStreamPrefixes(appId: string): string[] {
  return Object.values(StreamCategories).map((c) => (c === StreamCategories.app ? `${c}-${appId}` : `${c}-${appId}-`));
}

function selected(e: StoredEvent, appId: string, streams: Set<string> | undefined, from: number | undefined, to: number | undefined): boolean {
  if (e.metadata?.appId !== appId) return false;
  if (streams && !streams.has(e.stream)) return false;
  if (from === undefined && to === undefined) return true;
  const t = Date.parse(e.metadata.occurredAt);
  return (from === undefined || t >= from) && (to === undefined || t < to);
}
