import { createECDH, createPublicKey, randomBytes, verify } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureSimulatorTls, type SimulatorTls } from '@pushledger/fcm';
import { decryptAes128gcm, WebPushDecryptError, type SubscriptionSecrets } from './webpush-decrypt';

/** The subscription a browser hands its app (`PushSubscription.toJSON()`), as the simulator issues it. */
export interface SimSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface WebPushSimRequestRecord {
  seq: number;
  time: number;
  /** The subscription's id (the endpoint's last path segment). */
  id: string;
  endpoint: string;
  headers: Record<string, string>;
  /** The VAPID JWT's header and claims and the `k` it came with, when they decoded. */
  vapid: { header: Record<string, unknown>; claims: Record<string, unknown>; k: string } | null;
  /** The decrypted payload (parsed when it is JSON), or null when it did not decrypt or was not checked. */
  payload: unknown;
  status: number;
  /** Why the simulator refused it (not scripted answers). */
  problem: string | undefined;
  /** 1 for the first request to this subscription since the last reset. */
  attempt: number;
}

export interface WebPushSimulatorOptions {
  port?: number;
  host?: string;
  /** Where the CA, server certificate and stand-in VAPID keys are kept (cached); by default a temp directory removed on stop. */
  certDir?: string;
}

export interface VapidKeyPair {
  subject: string;
  publicKey: string;
  privateKey: string;
}

interface Held extends SubscriptionSecrets {
  /** The applicationServerKey the subscription was made with: other VAPID keys get 403, as browsers' push services answer. */
  serverKey: string | undefined;
  gone: boolean;
}

/** RFC 8030 §7.2: a push service takes at least 4096 bytes of body; this one takes exactly that. */
export const WEBPUSH_MAX_BODY_BYTES = 4096;
/** RFC 8292 §2: a JWT's `exp` is at most 24 hours ahead. */
const MAX_JWT_LIFETIME_S = 24 * 3600;
const STAND_IN_SUBJECT = 'mailto:simulator@pushledger.invalid';

const b64json = (part: string): Record<string, unknown> | null => {
  try {
    const v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
};

/** A raw uncompressed P-256 point (the VAPID `k`) as a verification key. */
function vapidKey(k: string) {
  const raw = Buffer.from(k, 'base64url');
  if (raw.length !== 65 || raw[0] !== 0x04) return null;
  try {
    return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33).toString('base64url') }, format: 'jwk' });
  } catch {
    return null;
  }
}

/** A fresh VAPID key pair, base64url, as `web-push generate-vapid-keys` prints one. */
export function generateVapidKeys(subject = STAND_IN_SUBJECT): VapidKeyPair {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  // getPrivateKey() drops leading zero bytes (1 key in 256 is shorter); a VAPID private key is always 32 bytes.
  const key = ecdh.getPrivateKey();
  const privateKey = Buffer.concat([Buffer.alloc(32 - key.length), key]).toString('base64url');
  return { subject, publicKey: ecdh.getPublicKey().toString('base64url'), privateKey };
}

/**
 * In-process Web Push service (RFC 8030) over HTTPS with a generated CA. It issues subscriptions (holding each
 * one's ECDH private key and auth secret, as the browser would), checks the VAPID `Authorization` header
 * (ES256 JWT verified against `k`, `aud` the endpoint's origin, `exp` ahead, `sub` present), decrypts the
 * aes128gcm body and records it. A test scripts answers per subscription and reads what came.
 */
export class WebPushSimulator {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private tls: SimulatorTls | undefined;
  private ownCertDir: string | undefined;
  private port = 0;
  private readonly subscriptions = new Map<string, Held>();
  private readonly scripts = new Map<string, number[]>();
  private readonly attempts = new Map<string, number>();
  private records: WebPushSimRequestRecord[] = [];
  private seq = 0;
  private standIn: VapidKeyPair | undefined;

  constructor(private readonly options: WebPushSimulatorOptions = {}) {}

  static async start(options: WebPushSimulatorOptions = {}): Promise<WebPushSimulator> {
    const sim = new WebPushSimulator(options);
    await sim.listen();
    return sim;
  }

  get url(): string {
    if (!this.server) throw new Error('Web Push simulator is not started');
    return `https://127.0.0.1:${this.port}`;
  }

  get caFile(): string {
    if (!this.tls) throw new Error('Web Push simulator is not started');
    return this.tls.caFile;
  }

  /** The VAPID keys apps without their own sign with under `npm start`. */
  get standInVapid(): VapidKeyPair {
    if (!this.standIn) throw new Error('Web Push simulator is not started');
    return this.standIn;
  }

  get standInVapidFile(): string {
    return join(this.options.certDir ?? this.ownCertDir!, 'stand-in-vapid.json');
  }

  async listen(): Promise<void> {
    if (this.server) return;
    if (this.options.certDir === undefined && this.ownCertDir === undefined) this.ownCertDir = await mkdtemp(join(tmpdir(), 'pushledger-webpush-sim-'));
    this.tls = await ensureSimulatorTls(this.options.certDir ?? this.ownCertDir!);
    this.standIn = await this.standInKeys();
    const server = createServer({ key: this.tls.key, cert: this.tls.cert }, this.onRequest);
    server.on('secureConnection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
    if (this.ownCertDir !== undefined) {
      await rm(this.ownCertDir, { recursive: true, force: true });
      this.ownCertDir = undefined;
    }
  }

  /**
   * A new subscription, as `pushManager.subscribe()` makes one. With `applicationServerKey` (a VAPID public key),
   * requests signed with another key are refused with 403, as the browsers' push services do.
   */
  subscribe(options: { applicationServerKey?: string } = {}): SimSubscription {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const auth = randomBytes(16);
    const id = randomBytes(18).toString('base64url');
    this.subscriptions.set(id, { ecdh, auth, serverKey: options.applicationServerKey, gone: false });
    return { endpoint: `${this.url}/push/${id}`, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } };
  }

  /** The user unsubscribed: later requests answer 410 Gone. */
  unsubscribe(endpoint: string): void {
    const held = this.subscriptions.get(idOf(endpoint));
    if (held) held.gone = true;
  }

  /** Queue statuses for a subscription's next requests; after them the request is checked and answered 201. */
  script(endpoint: string, statuses: number[]): void {
    const id = idOf(endpoint);
    this.scripts.set(id, [...(this.scripts.get(id) ?? []), ...statuses]);
  }

  requests(): readonly WebPushSimRequestRecord[] {
    return this.records;
  }

  requestsFor(endpoint: string): WebPushSimRequestRecord[] {
    const id = idOf(endpoint);
    return this.records.filter((r) => r.id === id);
  }

  reset(): void {
    this.records = [];
    this.scripts.clear();
    this.attempts.clear();
  }

  private async standInKeys(): Promise<VapidKeyPair> {
    const file = this.standInVapidFile;
    const existing = await readFile(file, 'utf8').catch(() => undefined);
    if (existing) return JSON.parse(existing) as VapidKeyPair;
    const keys = generateVapidKeys();
    await writeFile(file, JSON.stringify(keys), { mode: 0o600 });
    return keys;
  }

  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => undefined);
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const path = (req.url ?? '').split('?')[0];
      if (req.method === 'POST' && path === '/subscriptions') return this.answer(res, 201, this.subscribe(parseObject(body)));
      const received = /^\/received\/([A-Za-z0-9_-]+)$/.exec(path);
      if (req.method === 'GET' && received) return this.answer(res, 200, this.records.filter((r) => r.id === received[1] && r.status === 201).map((r) => ({ time: r.time, headers: r.headers, payload: r.payload })));
      const push = /^\/push\/([A-Za-z0-9_-]+)$/.exec(path);
      if (!push) return this.answer(res, 404, { error: 'no such path' });
      if (req.method !== 'POST') return this.answer(res, 405, { error: 'POST only' });
      const { status, problem } = this.handlePush(push[1], req, body);
      this.answer(res, status, problem ? { error: problem } : undefined, status === 201 ? { location: `${this.url}/message/${this.seq}` } : {});
    });
  };

  private answer(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (res.destroyed) return;
    res.writeHead(status, { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) });
    res.end(body !== undefined ? JSON.stringify(body) : undefined);
  }

  private handlePush(id: string, req: IncomingMessage, body: Buffer): { status: number; problem?: string } {
    const attempt = (this.attempts.get(id) ?? 0) + 1;
    this.attempts.set(id, attempt);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
    const endpoint = `${this.url}/push/${id}`;
    const vapid = decodeVapid(headers.authorization);
    const record = (status: number, payload: unknown, problem?: string) => {
      this.records.push({ seq: ++this.seq, time: Date.now(), id, endpoint, headers, vapid: vapid && { header: vapid.header, claims: vapid.claims, k: vapid.k }, payload, status, problem, attempt });
      return { status, ...(problem ? { problem } : {}) };
    };
    const held = this.subscriptions.get(id);
    if (!held) return record(404, null, 'no such subscription');
    if (held.gone) return record(410, null, 'unsubscribed');
    const scripted = this.scripts.get(id)?.shift();
    if (scripted !== undefined) return record(scripted, null);
    const refused = this.checkVapid(vapid, held, new URL(this.url).origin);
    if (refused) return record(refused.status, null, refused.problem);
    if (!/^\d+$/.test(headers.ttl ?? '')) return record(400, null, 'TTL header missing or not a number of seconds');
    if (headers.urgency !== undefined && !['very-low', 'low', 'normal', 'high'].includes(headers.urgency)) return record(400, null, 'bad Urgency');
    if (headers.topic !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(headers.topic)) return record(400, null, 'Topic must be at most 32 base64url characters');
    if (body.length > WEBPUSH_MAX_BODY_BYTES) return record(413, null, `body over ${WEBPUSH_MAX_BODY_BYTES} bytes`);
    if (body.length === 0) return record(201, null);
    if (headers['content-encoding'] !== 'aes128gcm') return record(400, null, 'Content-Encoding must be aes128gcm');
    let plain: Buffer;
    try {
      plain = decryptAes128gcm(body, held);
    } catch (err) {
      if (err instanceof WebPushDecryptError) return record(400, null, err.message);
      throw err;
    }
    const text = plain.toString('utf8');
    let payload: unknown = text;
    try {
      payload = JSON.parse(text);
    } catch {
      payload = text;
    }
    return record(201, payload);
  }

  /** RFC 8292: 401 for a missing or unverifiable JWT, 403 for a key other than the one the subscription was made with. */
  private checkVapid(vapid: ReturnType<typeof decodeVapid>, held: Held, origin: string): { status: number; problem: string } | undefined {
    if (!vapid) return { status: 401, problem: 'Authorization must be vapid t=<jwt>, k=<public key>' };
    if (vapid.header.alg !== 'ES256') return { status: 401, problem: 'JWT alg must be ES256' };
    const key = vapidKey(vapid.k);
    if (!key) return { status: 401, problem: 'k is not an uncompressed P-256 public key' };
    if (!verify('sha256', vapid.signed, { key, dsaEncoding: 'ieee-p1363' }, vapid.signature)) return { status: 401, problem: 'JWT signature does not verify against k' };
    const { aud, exp, sub } = vapid.claims;
    if (aud !== origin) return { status: 401, problem: 'JWT aud must be the push service origin' };
    const now = Date.now() / 1000;
    if (typeof exp !== 'number' || exp <= now || exp > now + MAX_JWT_LIFETIME_S + 60) return { status: 401, problem: 'JWT exp must be in the next 24 hours' };
    if (typeof sub !== 'string' || !/^(mailto:|https:)/.test(sub)) return { status: 401, problem: 'JWT sub must be a mailto: or https: contact' };
    if (held.serverKey !== undefined && held.serverKey !== vapid.k) return { status: 403, problem: 'k is not the applicationServerKey of the subscription' };
    return undefined;
  }
}

function idOf(endpoint: string): string {
  return endpoint.slice(endpoint.lastIndexOf('/') + 1);
}

function parseObject(body: Buffer): { applicationServerKey?: string } {
  try {
    const v = JSON.parse(body.toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null && typeof (v as { applicationServerKey?: unknown }).applicationServerKey === 'string' ? { applicationServerKey: (v as { applicationServerKey: string }).applicationServerKey } : {};
  } catch {
    return {};
  }
}

function decodeVapid(authorization: string | undefined) {
  const m = /^vapid\s+(.+)$/i.exec(authorization ?? '');
  if (!m) return null;
  const params = new Map<string, string>();
  for (const part of m[1].split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) params.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  const t = params.get('t');
  const k = params.get('k');
  const parts = t?.split('.');
  if (!parts || parts.length !== 3 || !k) return null;
  const header = b64json(parts[0]);
  const claims = b64json(parts[1]);
  if (!header || !claims) return null;
  return { header, claims, k, signed: Buffer.from(`${parts[0]}.${parts[1]}`), signature: Buffer.from(parts[2], 'base64url') };
}
