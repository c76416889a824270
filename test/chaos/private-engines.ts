import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { repoRoot } from '@pushledger/testing';

const run = promisify(execFile);

export type EngineName = 'kafka' | 'postgres' | 'ferretdb';

/**
 * Kafka, PostgreSQL and FerretDB of our own (own ports, own data directory), started by the project's
 * deploy/local/infra.sh, so that a scenario may kill or restart them without touching the shared engines.
 * Reuses the Kafka jars and the FerretDB binary an earlier `infra.sh up` left in a `.data` directory.
 */
export interface PrivateEngines {
  env: { KAFKA_BROKERS: string; POSTGRES_URL: string; MONGODB_URI: string };
  dataDir: string;
  pid(engine: EngineName): number | undefined;
  /** SIGKILL (Kafka, FerretDB) or an immediate shutdown (PostgreSQL: no checkpoint, crash recovery on start). */
  crash(engine: EngineName): Promise<void>;
  /** Starts whatever is down (infra.sh up is idempotent). */
  up(): Promise<void>;
  destroy(): Promise<void>;
}

/** The `.data` directory holding the built engines: this checkout's, else that of the checkout whose node_modules we use. */
function builtEnginesDir(): string {
  const candidates = [path.join(repoRoot, '.data')];
  const nm = path.join(repoRoot, 'node_modules');
  if (fs.existsSync(nm)) candidates.push(path.join(path.dirname(fs.realpathSync(nm)), '.data'));
  const found = candidates.find((d) => fs.existsSync(path.join(d, 'kafka/libs/.pom.sha256')) && fs.existsSync(path.join(d, 'bin/pushledger-ferretdb.sha256')));
  if (!found) throw new Error(`no built Kafka jars / FerretDB binary in ${candidates.join(' or ')}: run \`bash deploy/local/infra.sh up\` once`);
  return found;
}

/**
 * `count` consecutive ports that can be listened on, below the kernel's ephemeral range (32768-60999 here):
 * a port picked inside that range can be handed to some outgoing connection before the engine binds it (or
 * binds it again after a crash), and Kafka then fails with "Address already in use". Kafka's controller
 * takes the port after the broker's.
 */
async function listenablePorts(count: number): Promise<number[]> {
  const net = await import('net');
  const canListen = (port: number) =>
    new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * (32_000 - 20_000 - count));
    const ports = Array.from({ length: count }, (_, i) => base + i);
    let free = true;
    for (const p of ports) if (!(free = await canListen(p))) break;
    if (free) return ports;
  }
  throw new Error(`no ${count} consecutive free ports between 20000 and 32000`);
}

export async function startPrivateEngines(): Promise<PrivateEngines> {
  const built = builtEnginesDir();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushledger-chaos-'));
  fs.chmodSync(dataDir, 0o755);
  fs.mkdirSync(path.join(dataDir, 'kafka'), { recursive: true });
  fs.mkdirSync(path.join(dataDir, 'bin'), { recursive: true });
  fs.symlinkSync(path.join(built, 'kafka/libs'), path.join(dataDir, 'kafka/libs'));
  for (const f of ['pushledger-ferretdb', 'pushledger-ferretdb.sha256']) fs.symlinkSync(path.join(built, 'bin', f), path.join(dataDir, 'bin', f));

  const [kafkaPort, , pgPort, mongoPort] = await listenablePorts(4);
  const env = {
    KAFKA_BROKERS: `127.0.0.1:${kafkaPort}`,
    POSTGRES_URL: `postgres://pushledger:pushledger@127.0.0.1:${pgPort}/pushledger`,
    MONGODB_URI: `mongodb://127.0.0.1:${mongoPort}/pushledger`,
  };
  const infraEnv = { ...process.env, ...env, PUSHLEDGER_DATA_DIR: dataDir };
  const infra = async (cmd: 'up' | 'down') => {
    try {
      await run('bash', [path.join(repoRoot, 'deploy/local/infra.sh'), cmd], { env: infraEnv, timeout: 240_000, maxBuffer: 4 << 20 });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`infra.sh ${cmd} (private engines in ${dataDir}) failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
    }
  };
  const pidFile = (engine: EngineName) =>
    engine === 'postgres' ? path.join(dataDir, 'postgres/data/postmaster.pid') : path.join(dataDir, `run/${engine}.pid`);
  const pid = (engine: EngineName): number | undefined => {
    const text = fs.existsSync(pidFile(engine)) ? fs.readFileSync(pidFile(engine), 'utf8') : '';
    const n = Number(text.split('\n')[0]);
    if (!Number.isInteger(n) || n <= 0) return undefined;
    // Our own engine only: its command line names our data directory.
    const cmdline = fs.existsSync(`/proc/${n}/cmdline`) ? fs.readFileSync(`/proc/${n}/cmdline`, 'utf8') : '';
    return cmdline.includes(dataDir) ? n : undefined;
  };
  const gone = async (p: number) => {
    for (let i = 0; i < 300 && fs.existsSync(`/proc/${p}`); i++) await new Promise((r) => setTimeout(r, 100));
  };

  try {
    await infra('up');
  } catch (err) {
    // Nobody gets a handle to destroy: stop whatever did start here.
    await infra('down').catch(() => undefined);
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    env,
    dataDir,
    pid,
    async crash(engine) {
      const p = pid(engine);
      if (p === undefined) throw new Error(`private ${engine} is not running`);
      // SIGQUIT to the postmaster is PostgreSQL's immediate shutdown (what `pg_ctl stop -m immediate` sends).
      process.kill(p, engine === 'postgres' ? 'SIGQUIT' : 'SIGKILL');
      await gone(p);
    },
    up: () => infra('up'),
    async destroy() {
      await infra('down').catch(() => undefined);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
