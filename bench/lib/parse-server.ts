import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import { FcmSimulator } from '@pushledger/fcm';
import { freePort, repoRoot, waitFor } from '@pushledger/testing';
import { closedLoop, LoadResult } from './http-load';

/** Parse's client credentials (bench/parse/server.js); the master key is needed for pushes only. */
export const PARSE_HEADERS = { 'x-parse-application-id': 'bench', 'x-parse-client-key': 'bench-client-key' };
export const PARSE_MASTER_KEY = 'bench-master-key';

export interface ParseServer {
  url: URL;
  pid: number | undefined;
  dbName: string;
  /** A client of Parse's own database. */
  pg: Client;
  /** The FCM simulator Parse's push adapter is pointed at. */
  sim: FcmSimulator;
  versions: { parseServer: string; pushAdapter: string; postgres: string };
  /** Pids of the PostgreSQL backends serving Parse's database. */
  backendPids(): Promise<number[]>;
  stop(): Promise<void>;
}

const packageVersion = (name: string): string => (JSON.parse(fs.readFileSync(path.join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

/**
 * Parse Server (npm parse-server, bench/parse/server.js, its own process) on the PostgreSQL server at
 * `postgresUrl`, in a database of its own (dropped by stop()), with its FCM push adapter pointed at an FCM
 * simulator in this process. See bench/parse/README.md.
 */
export async function startParseServer(postgresUrl: string): Promise<ParseServer> {
  const admin = new Client({ connectionString: postgresUrl });
  await admin.connect();
  const dbName = `parse_bench_${randomBytes(3).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${dbName}`);
  const dbUrl = new URL(postgresUrl);
  dbUrl.pathname = `/${dbName}`;
  const sim = await FcmSimulator.start({ certDir: path.join(repoRoot, '.data/fcm-sim-bench') });
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(repoRoot, 'bench/parse/server.js')], {
    cwd: repoRoot,
    env: { ...process.env, PARSE_PORT: String(port), PARSE_DATABASE_URI: dbUrl.toString(), FCM_ENDPOINT: sim.url, FCM_CA_FILE: sim.caFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-20000)));
  child.stderr.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-20000)));
  const pg = new Client({ connectionString: dbUrl.toString() });
  const stop = async () => {
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    if (child.exitCode === null) child.kill('SIGKILL');
    await pg.end().catch(() => undefined);
    await sim.stop().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`parse-server exited: ${output}`);
        return (await fetch(`http://127.0.0.1:${port}/parse/health`).catch(() => null))?.status === 200;
      },
      { what: 'parse-server to be healthy', timeoutMs: 60000 },
    );
    await pg.connect();
    const versions = {
      parseServer: packageVersion('parse-server'),
      pushAdapter: packageVersion('@parse/push-adapter'),
      postgres: (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version,
    };
    return {
      url: new URL(`http://127.0.0.1:${port}`),
      pid: child.pid,
      dbName,
      pg,
      sim,
      versions,
      backendPids: async () => (await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [dbName])).rows.map((r) => r.pid),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** `POST /parse/installations`, a new Android installation with an FCM token per request; 201 is a success. */
export function parseInstallations(parse: ParseServer, opts: { concurrency: number; requests: number; maxSeconds?: number; label: string }): Promise<LoadResult> {
  return closedLoop({
    base: parse.url,
    concurrency: opts.concurrency,
    requests: opts.requests,
    maxSeconds: opts.maxSeconds ?? Infinity,
    okStatus: 201,
    headers: PARSE_HEADERS,
    request: (i) => ({
      route: '/parse/installations',
      body: JSON.stringify({
        deviceType: 'android',
        pushType: 'gcm',
        installationId: randomUUID(),
        deviceToken: `ok:parse-${opts.label}-${i}-${randomBytes(60).toString('base64url')}`,
        appIdentifier: 'com.example.bench',
        localeIdentifier: 'en-GB',
        timeZone: 'Europe/London',
      }),
    }),
  });
}
