import { createPublicKey, generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createSecureServer, type Http2SecureServer, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureSimulatorTls, type SimulatorTls } from '@pushledger/fcm';

/** An answer the simulator gives: 200, or Apple's error status and reason (410 with `timestamp`, ms). */
export type ApnsSimReply = 'success' | { status: number; reason: string; timestamp?: number };

export interface ApnsSimRequestRecord {
  seq: number;
  time: number;
  token: string;
  /** The request's headers (authorization included: tests check whose key signed it). */
  headers: Record<string, string>;
  /** The provider token's header and claims, when it decoded. */
  jwt: { header: Record<string, unknown>; claims: Record<string, unknown> } | null;
  body: unknown;
  status: number;
  reason: string | undefined;
  /** 1 for the first request to this token since the last reset. */
  attempt: number;
}

export interface ApnsSimulatorOptions {
  port?: number;
  host?: string;
  /** Where the CA and server certificate are kept (cached); by default a temp directory removed on stop. */
  certDir?: string;
}

/** Key id and team of the simulator's own signing key: what apps without APNs credentials sign with under `npm start`. */
export const STAND_IN_KEY_ID = 'PLSIMKEY01';
export const STAND_IN_TEAM_ID = 'PLSIMTEAM1';

const MAX_PAYLOAD_BYTES = 4096;
const TOKEN_MAX_AGE_S = 3600;
const PUSH_TYPES = new Set(['alert', 'background', 'location', 'voip', 'complication', 'fileprovider', 'mdm', 'liveactivity', 'pushtotalk', 'widgets']);

interface TrustedKey {
  teamId: string;
  key: KeyObject;
  /** Topics the key may send to; empty: any. */
  topics: Set<string>;
}

const b64json = (part: string): Record<string, unknown> | null => {
  try {
    const v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
};

/**
 * In-process APNs provider API (`POST /3/device/<token>`) over HTTP/2 + TLS with a generated CA. It checks
 * the ES256 provider token against the keys it was given (`trustKey`), the headers and the payload, and
 * answers with Apple's statuses and `{"reason": …}` bodies; a test scripts answers per token and reads what came.
 */
export class ApnsSimulator {
  private server: Http2SecureServer | undefined;
  private readonly sockets = new Set<Socket>();
  private tls: SimulatorTls | undefined;
  private ownCertDir: string | undefined;
  private port = 0;
  private readonly keys = new Map<string, TrustedKey>();
  private readonly scripts = new Map<string, ApnsSimReply[]>();
  private readonly attempts = new Map<string, number>();
  private records: ApnsSimRequestRecord[] = [];
  private seq = 0;
  private standInPem: string | undefined;

  constructor(private readonly options: ApnsSimulatorOptions = {}) {}

  static async start(options: ApnsSimulatorOptions = {}): Promise<ApnsSimulator> {
    const sim = new ApnsSimulator(options);
    await sim.listen();
    return sim;
  }

  get url(): string {
    if (!this.server) throw new Error('APNs simulator is not started');
    return `https://127.0.0.1:${this.port}`;
  }

  get caFile(): string {
    if (!this.tls) throw new Error('APNs simulator is not started');
    return this.tls.caFile;
  }

  /** The .p8 of the simulator's own key (STAND_IN_KEY_ID, STAND_IN_TEAM_ID), trusted for any topic. */
  get standInKeyPem(): string {
    if (!this.standInPem) throw new Error('APNs simulator is not started');
    return this.standInPem;
  }

  async listen(): Promise<void> {
    if (this.server) return;
    if (this.options.certDir === undefined && this.ownCertDir === undefined) this.ownCertDir = await mkdtemp(join(tmpdir(), 'pushledger-apns-sim-'));
    const dir = this.options.certDir ?? this.ownCertDir!;
    this.tls = await ensureSimulatorTls(dir);
    this.standInPem = await this.standInKey(dir);
    this.trustKey({ keyId: STAND_IN_KEY_ID, teamId: STAND_IN_TEAM_ID, key: this.standInPem });
    const server = createSecureServer({ key: this.tls.key, cert: this.tls.cert, allowHTTP1: false });
    server.on('stream', this.onStream);
    server.on('secureConnection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.on('sessionError', () => undefined);
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

  /** Accept provider tokens signed by this key (public or private PEM) for `teamId`, for `topics` (empty: any). */
  trustKey(k: { keyId: string; teamId: string; key: string; topics?: string[] }): void {
    this.keys.set(k.keyId, { teamId: k.teamId, key: createPublicKey(k.key), topics: new Set(k.topics ?? []) });
  }

  /** Queue answers for a token's next requests; after them (and for other tokens) the request is checked and answered 200. */
  script(token: string, replies: ApnsSimReply[]): void {
    this.scripts.set(token, [...(this.scripts.get(token) ?? []), ...replies]);
  }

  requests(): readonly ApnsSimRequestRecord[] {
    return this.records;
  }

  requestsFor(token: string): ApnsSimRequestRecord[] {
    return this.records.filter((r) => r.token === token);
  }

  reset(): void {
    this.records = [];
    this.scripts.clear();
    this.attempts.clear();
  }

  private async standInKey(dir: string): Promise<string> {
    const file = join(dir, 'stand-in-key.p8');
    const existing = await readFile(file, 'utf8').catch(() => undefined);
    if (existing) return existing;
    const pem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await writeFile(file, pem, { mode: 0o600 });
    return pem;
  }

  private readonly onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => undefined);
    stream.on('end', () => {
      const { status, reason, timestamp } = this.handle(headers, Buffer.concat(chunks));
      if (stream.destroyed || stream.closed) return;
      const apnsId = typeof headers['apns-id'] === 'string' ? headers['apns-id'] : `${this.seq.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`;
      stream.respond({ ':status': status, 'apns-id': apnsId, ...(reason ? { 'content-type': 'application/json' } : {}) });
      stream.end(reason ? JSON.stringify({ reason, ...(timestamp !== undefined ? { timestamp } : {}) }) : undefined);
    });
  };

  private handle(headers: IncomingHttpHeaders, body: Buffer): { status: number; reason?: string; timestamp?: number } {
    const path = String(headers[':path'] ?? '');
    const match = /^\/3\/device\/([^/?]*)$/.exec(path);
    if (!match) return { status: 404, reason: 'BadPath' };
    const token = decodeURIComponent(match[1]);
    const attempt = (this.attempts.get(token) ?? 0) + 1;
    this.attempts.set(token, attempt);
    const jwt = this.decodeJwt(headers.authorization);
    const answer = headers[':method'] !== 'POST' ? { status: 405, reason: 'MethodNotAllowed' } : (this.check(token, headers, body, jwt) ?? this.scripted(token));
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      parsed = body.toString('utf8');
    }
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers)) if (typeof v === 'string') flat[k] = v;
    this.records.push({ seq: ++this.seq, time: Date.now(), token, headers: flat, jwt: jwt && { header: jwt.header, claims: jwt.claims }, body: parsed, status: answer.status, reason: answer.reason, attempt });
    return answer;
  }

  private scripted(token: string): { status: number; reason?: string; timestamp?: number } {
    const next = this.scripts.get(token)?.shift();
    if (!next || next === 'success') return { status: 200 };
    return next;
  }

  private decodeJwt(authorization: string | undefined) {
    const m = /^bearer (.+)$/i.exec(authorization ?? '');
    const parts = m?.[1].split('.');
    if (!parts || parts.length !== 3) return null;
    const header = b64json(parts[0]);
    const claims = b64json(parts[1]);
    if (!header || !claims) return null;
    return { header, claims, signed: Buffer.from(`${parts[0]}.${parts[1]}`), signature: Buffer.from(parts[2], 'base64url') };
  }

  /** Apple's checks, in the order its answers suggest: authentication, then the request, then the token. */
  private check(token: string, headers: IncomingHttpHeaders, body: Buffer, jwt: ReturnType<ApnsSimulator['decodeJwt']>): { status: number; reason: string } | undefined {
    if (!headers.authorization) return { status: 403, reason: 'MissingProviderToken' };
    if (!jwt || jwt.header.alg !== 'ES256' || typeof jwt.header.kid !== 'string') return { status: 403, reason: 'InvalidProviderToken' };
    const trusted = this.keys.get(jwt.header.kid);
    if (!trusted || jwt.claims.iss !== trusted.teamId) return { status: 403, reason: 'InvalidProviderToken' };
    if (!verify('sha256', jwt.signed, { key: trusted.key, dsaEncoding: 'ieee-p1363' }, jwt.signature)) return { status: 403, reason: 'InvalidProviderToken' };
    const iat = jwt.claims.iat;
    if (typeof iat !== 'number' || Date.now() / 1000 - iat > TOKEN_MAX_AGE_S) return { status: 403, reason: 'ExpiredProviderToken' };
    const topic = headers['apns-topic'];
    if (typeof topic !== 'string' || topic === '') return { status: 400, reason: 'MissingTopic' };
    if (trusted.topics.size > 0 && !trusted.topics.has(topic)) return { status: 400, reason: 'TopicDisallowed' };
    const pushType = headers['apns-push-type'];
    if (pushType !== undefined && !PUSH_TYPES.has(String(pushType))) return { status: 400, reason: 'InvalidPushType' };
    const priority = headers['apns-priority'];
    if (priority !== undefined && !['1', '5', '10'].includes(String(priority))) return { status: 400, reason: 'BadPriority' };
    const collapseId = headers['apns-collapse-id'];
    if (collapseId !== undefined && Buffer.byteLength(String(collapseId)) > 64) return { status: 400, reason: 'BadCollapseId' };
    if (body.length > MAX_PAYLOAD_BYTES) return { status: 413, reason: 'PayloadTooLarge' };
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString('utf8'));
    } catch {
      return { status: 400, reason: 'PayloadEmpty' };
    }
    if (typeof payload !== 'object' || payload === null || typeof (payload as { aps?: unknown }).aps !== 'object') return { status: 400, reason: 'PayloadEmpty' };
    // Device tokens are hex (32 bytes today, longer allowed); an FCM token here is Apple's BadDeviceToken.
    if (!/^[0-9a-fA-F]{64,200}$/.test(token)) return { status: 400, reason: 'BadDeviceToken' };
    return undefined;
  }
}
