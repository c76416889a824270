/**
 * Replay throughput: a full replay of one app's history to NDJSON (`npm run replay -- --app <id> --out f`)
 * over 1,000,000 events loaded straight into a private PostgreSQL database (100,000 device streams of
 * 10 facts, generated server-side), run as the compiled CLI process: events/s end to end (process start
 * to exit), its CPU and peak RSS (bounded memory), and the output size. A second, smaller run measures
 * the privacy decorator's cost: events written through it (sealed tokens and pii), so the replay opens
 * them with key lookups. Results: bench/results/replay.json.
 *
 *   bash bench/replay/run.sh [--events 1000000] [--sealed 50000]
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { deviceStream, userStream } from '@pushledger/contracts';
import { PostgresEventStore, type NewEvent } from '@pushledger/event-store';
import { createPrivateEventStore } from '@pushledger/privacy';
import { createTestDatabase, repoRoot, testConfig } from '@pushledger/testing';
import { processCpuMs } from '../lib/process-cpu';
import { writeResults } from '../lib/results';
import { round } from '../lib/stats';

const argv = process.argv.slice(2);
const arg = (name: string, fallback: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const EVENTS = arg('events', 1_000_000);
const SEALED = arg('sealed', 50_000);
const PER_STREAM = 10;
const APP = 'app_bench';
const SEALED_APP = 'app_sealed';

/** 1M plain device facts in one server-side statement: positions 1..N, stream k gets revisions 0..9. */
async function loadPlain(url: string, n: number): Promise<number> {
  const streams = Math.ceil(n / PER_STREAM);
  const c = new Client({ connectionString: url });
  await c.connect();
  const started = Date.now();
  try {
    await c.query(
      `INSERT INTO event_store.events (position, event_id, stream_id, stream_revision, type, data, metadata)
       SELECT g, gen_random_uuid(), $2 || ((g - 1) % $3), (g - 1) / $3,
              CASE WHEN (g - 1) / $3 = 0 THEN 'TokenRegistered' ELSE (ARRAY['DeviceSeen','PushSent','DeviceAttributesUpdated','PushBounced','TokenRefreshed'])[1 + (g % 5)] END,
              jsonb_build_object('appId', $1::text, 'deviceId', 'd' || ((g - 1) % $3), 'at', ts, 'token', 'fcm-' || md5(g::text) || ':APA91b' || md5((g * 7)::text),
                                 'provider', 'fcm', 'platform', CASE WHEN g % 3 = 0 THEN 'ios' ELSE 'android' END,
                                 'attributes', jsonb_build_object('model', 'Pixel 8', 'osVersion', '14', 'appVersion', '4.2.' || (g % 10), 'locale', 'en-GB', 'timezone', 'Europe/London')),
              jsonb_build_object('appId', $1::text, 'correlationId', gen_random_uuid(), 'causationId', gen_random_uuid(), 'occurredAt', ts, 'schemaVersion', 1)
       FROM generate_series(1, $4::bigint) AS g,
            LATERAL (SELECT to_char((timestamptz '2025-01-01 00:00:00+00' + g * interval '1 second') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ts) t`,
      [APP, `device-${APP}-d`, streams, n],
    );
    await c.query(`INSERT INTO event_store.streams (stream_id, revision) SELECT $1 || k, ($2::bigint - 1 - k) / $3 FROM generate_series(0, $3 - 1) AS k`, [`device-${APP}-d`, n, streams]);
    await c.query('UPDATE event_store.global_position SET position = $1 WHERE id = 1', [n]);
    await c.query('ANALYZE event_store.events');
  } finally {
    await c.end();
  }
  return (Date.now() - started) / 1000;
}

/** Facts with personal data, written through the privacy decorator (so tokens and pii are sealed). */
async function loadSealed(url: string, n: number): Promise<number> {
  const store = await createPrivateEventStore(testConfig({ POSTGRES_URL: url }), { poolSize: 8 });
  const started = Date.now();
  const meta = (at: string) => ({ appId: SEALED_APP, correlationId: randomUUID(), causationId: randomUUID(), occurredAt: at, schemaVersion: 1 });
  try {
    const devices = Math.ceil(n / PER_STREAM);
    const write = async (d: number) => {
      const at = new Date(Date.UTC(2025, 0, 1) + d * 1000).toISOString();
      const userId = `user-${d % Math.max(1, Math.floor(devices / 2))}`;
      const base = { appId: SEALED_APP, deviceId: `s${d}`, at };
      const events: NewEvent[] = [
        { eventId: randomUUID(), type: 'TokenRegistered', data: { ...base, token: `fcm-${d}-${randomUUID()}`, provider: 'fcm', platform: 'android', claim: 1, attributes: { model: 'Pixel 8', osVersion: '14', appVersion: '4.2.1', locale: 'en-GB', timezone: 'Europe/London' }, pushEnabled: true }, metadata: meta(at) },
        { eventId: randomUUID(), type: 'Identified', data: { ...base, pii: { userId } }, metadata: meta(at) },
        ...Array.from({ length: PER_STREAM - 2 }, () => ({ eventId: randomUUID(), type: 'PushSent', data: { ...base, messageId: randomUUID() }, metadata: meta(at) })),
      ];
      await store.appendToStream(deviceStream(SEALED_APP, `s${d}`), events, { expectedRevision: 'no_stream' });
      if (d % 2 === 0) await store.appendToStream(userStream(SEALED_APP, userId), [{ eventId: randomUUID(), type: 'UserTraitsUpdated', data: { appId: SEALED_APP, at, pii: { userId, traits: { email: `${userId}@example.com` } } }, metadata: meta(at) }], { expectedRevision: 'any' });
    };
    for (let d = 0; d < devices; d += 8) await Promise.all(Array.from({ length: Math.min(8, devices - d) }, (_, i) => write(d + i)));
  } finally {
    await store.close();
  }
  return (Date.now() - started) / 1000;
}

async function replay(url: string, appId: string, out: string) {
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [path.join(repoRoot, 'scripts/run.js'), 'dist/tools/replay/main.js', '--app', appId, '--out', out], {
    cwd: repoRoot,
    env: { ...process.env, POSTGRES_URL: url, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  let peakRssKiB = 0;
  let cpuMs: number | undefined;
  const sampler = setInterval(() => {
    try {
      const rss = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (rss) peakRssKiB = Math.max(peakRssKiB, Number(rss[1]));
      cpuMs = processCpuMs(child.pid!) ?? cpuMs;
    } catch {
      // exited
    }
  }, 100);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearInterval(sampler);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (code !== 0) throw new Error(`replay exited ${code}: ${stderr}`);
  const text = fs.readFileSync(out, 'utf8');
  const lines = text.length ? text.split('\n').length - 1 : 0;
  return { lines, seconds, stderr: stderr.trim().split('\n').at(-1), cpuMs, peakRssMiB: round(peakRssKiB / 1024, 1), outputMiB: round(text.length / 2 ** 20, 1) };
}

async function main(): Promise<void> {
  const loadAtStart = os.loadavg().map((l) => round(l, 2));
  const db = await createTestDatabase('replaybench');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replay-bench-'));
  try {
    await (await PostgresEventStore.connect({ connectionString: db.url })).close();
    const loadSeconds = await loadPlain(db.url, EVENTS);
    process.stderr.write(`loaded ${EVENTS} events in ${loadSeconds.toFixed(1)} s\n`);
    const plain = await replay(db.url, APP, path.join(dir, 'plain.ndjson'));
    if (plain.lines !== EVENTS) throw new Error(`replay wrote ${plain.lines} lines, expected ${EVENTS}`);
    fs.rmSync(path.join(dir, 'plain.ndjson'));
    process.stderr.write(`replayed ${plain.lines} events in ${plain.seconds.toFixed(1)} s\n`);

    let sealed: Record<string, unknown> | undefined;
    if (SEALED > 0) {
      const sealedLoad = await loadSealed(db.url, SEALED);
      const r = await replay(db.url, SEALED_APP, path.join(dir, 'sealed.ndjson'));
      sealed = {
        events: r.lines,
        loadSeconds: round(sealedLoad, 1),
        wallSeconds: round(r.seconds, 2),
        eventsPerSecond: Math.round(r.lines / r.seconds),
        cpuMs: round(r.cpuMs, 0),
        peakRssMiB: r.peakRssMiB,
        note: 'tokens and pii sealed (AES-256-GCM); the replay opens them with one key lookup per 500 events; the log also holds the plain events above, scanned and skipped; wall time includes process start-up',
      };
      process.stderr.write(`replayed ${r.lines} sealed events in ${r.seconds.toFixed(1)} s\n`);
    }
    const file = writeResults('replay', {
      loadAverage: { atStart: loadAtStart, atEnd: os.loadavg().map((l) => round(l, 2)), note: 'the machine is shared with other work; figures are noisy' },
      setup: { events: EVENTS, streams: Math.ceil(EVENTS / PER_STREAM), perStream: PER_STREAM, loadSeconds: round(loadSeconds, 1), loadedBy: 'server-side INSERT ... SELECT generate_series into a private database' },
      replay: {
        command: 'npm run replay -- --app app_bench --out <file> (compiled CLI as a process; wall time includes start-up)',
        events: plain.lines,
        wallSeconds: round(plain.seconds, 2),
        eventsPerSecond: Math.round(plain.lines / plain.seconds),
        cpuMs: round(plain.cpuMs, 0),
        peakRssMiB: plain.peakRssMiB,
        outputMiB: plain.outputMiB,
        cliSummary: plain.stderr,
      },
      sealed,
    });
    process.stdout.write(`${fs.readFileSync(file, 'utf8')}\nwritten to ${file}\n`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    await db.drop();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
