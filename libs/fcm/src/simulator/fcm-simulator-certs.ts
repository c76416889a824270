import { execFile } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SimulatorTls {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

// Bump when the certificate profile changes so cached directories are regenerated.
const LAYOUT = 'tls-v1';
const SERVER_SAN = 'subjectAltName=DNS:fcm.googleapis.com,DNS:localhost,IP:127.0.0.1';

async function openssl(cwd: string, args: string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0]} failed: ${(err as Error).message} ${stderr}`.trim());
  }
}

async function generate(dir: string): Promise<void> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(dir, [
    'req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '3650',
    '-subj', '/CN=Pushledger FCM simulator CA',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await openssl(dir, ['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=fcm.googleapis.com']);
  await writeFile(
    join(dir, 'server.ext'),
    `${SERVER_SAN}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`,
  );
  await openssl(dir, [
    'x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key',
    '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '825', '-extfile', 'server.ext', '-out', 'server.crt',
  ]);
}

async function load(dir: string): Promise<SimulatorTls | undefined> {
  try {
    const [ca, cert, key] = await Promise.all([
      readFile(join(dir, 'ca.crt')),
      readFile(join(dir, 'server.crt')),
      readFile(join(dir, 'server.key')),
    ]);
    if (Date.parse(new X509Certificate(cert).validTo) < Date.now() + 86_400_000) return undefined;
    return { dir, caFile: join(dir, 'ca.crt'), certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key'), ca, cert, key };
  } catch {
    return undefined;
  }
}

/**
 * A throwaway CA and a server certificate for fcm.googleapis.com, localhost and 127.0.0.1, made with
 * the openssl CLI. With `baseDir` the pair is cached there; it is generated into a scratch directory
 * and renamed into place, so concurrent starters all end up with one consistent set.
 */
export async function ensureSimulatorTls(baseDir?: string): Promise<SimulatorTls> {
  const root = baseDir ?? (await mkdtemp(join(tmpdir(), 'pushledger-fcm-sim-')));
  await mkdir(root, { recursive: true });
  const target = join(root, LAYOUT);
  const cached = await load(target);
  if (cached) return cached;

  const scratch = await mkdtemp(join(root, '.gen-'));
  try {
    await generate(scratch);
    const stale = await load(target);
    if (!stale) await rm(target, { recursive: true, force: true });
    try {
      await rename(scratch, target);
    } catch {
      // Another process won the race; its set is as good as ours.
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const tls = await load(target);
  if (!tls) throw new Error(`FCM simulator: no usable certificates in ${target}`);
  return tls;
}
