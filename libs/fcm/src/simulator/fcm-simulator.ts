import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureSimulatorTls, type SimulatorTls } from './fcm-simulator-certs';
import {
  compileReply,
  TOKEN_PREFIXES,
  validateMessage,
  type FcmSimResponse,
  type PayloadLimits,
  type ReplyOptions,
  type SimReply,
} from './fcm-simulator-replies';

export interface FcmSimulatorQuota {
  /** Messages accepted per project within the rolling window. */
  messages: number;
  windowMs: number;
  /** Fixed Retry-After for quota rejections; by default the time until the window frees a slot. */
  retryAfterSeconds?: number;
}

export interface FcmSimulatorConfig {
  /** Fixed delay before every FCM answer. */
  latencyMs?: number;
  /** Per-project quota; null turns it off. */
  quota?: FcmSimulatorQuota | null;
  /** Answer for tokens without a script or a known prefix. */
  default?: FcmSimResponse;
}

export interface FcmSimulatorOptions extends FcmSimulatorConfig {
  port?: number;
  host?: string;
  /** Where the CA and server certificate are kept (cached); by default a temp directory removed on stop. */
  certDir?: string;
  /** Retry-After of `quota:` tokens and the quota-exceeded kind (FCM asks for at least a minute). */
  quotaRetryAfterSeconds?: number;
  /** Retry-After of `unavailable:`/`flaky<N>:` tokens; firebase-admin waits it out up to 4 times itself. */
  unavailableRetryAfterSeconds?: number;
  /** Add a google.rpc.RetryInfo detail to 429/503 bodies as well (real FCM is not known to). */
  retryInfoDetail?: boolean;
  /** SETTINGS_MAX_CONCURRENT_STREAMS advertised to HTTP/2 clients. */
  maxConcurrentStreams?: number;
  maxTitleLength?: number;
  maxPayloadBytes?: number;
  /** Oldest records are dropped beyond this many. */
  maxRecords?: number;
}

export interface FcmSimRequestRecord {
  seq: number;
  time: number;
  project: string;
  /** Token, or `topic:<name>` / `condition:<expr>` for other targets; '' when the body was unreadable. */
  token: string;
  message: unknown;
  validateOnly: boolean;
  status: number;
  /** FcmError.errorCode (or rpc status) of the answer; undefined on success. */
  errorCode: string | undefined;
  /** 1 for the first request to this token since the last reset. */
  attempt: number;
  /** The access token the request presented (tests check whose credentials signed it). */
  bearer?: string;
  httpVersion: '1.1' | '2';
}

const SEND_PREFIX = '/v1/projects/';
const SEND_SUFFIX = '/messages:send';
const JSON_TYPE = 'application/json; charset=UTF-8';
const FLAKY = /^flaky(\d+)$/;

class RollingCounter {
  private readonly slots = 60;
  private readonly slotMs: number;
  private readonly counts = new Float64Array(this.slots);
  private readonly epochs = new Float64Array(this.slots).fill(-Infinity);

  constructor(private readonly windowMs: number) {
    this.slotMs = Math.max(1, Math.ceil(windowMs / this.slots));
  }

  /** Counts one message if the window has room; otherwise returns the ms until a slot frees. */
  take(now: number, limit: number): number {
    const epoch = Math.floor(now / this.slotMs);
    const oldest = epoch - this.slots + 1;
    let total = 0;
    let firstEpoch = Infinity;
    for (let i = 0; i < this.slots; i++) {
      const e = this.epochs[i];
      if (e >= oldest && this.counts[i] > 0) {
        total += this.counts[i];
        if (e < firstEpoch) firstEpoch = e;
      }
    }
    if (total >= limit) return Math.max(1, (firstEpoch + this.slots) * this.slotMs - now);
    const idx = epoch % this.slots;
    if (this.epochs[idx] !== epoch) {
      this.epochs[idx] = epoch;
      this.counts[idx] = 0;
    }
    this.counts[idx]++;
    return 0;
  }

  get window(): number {
    return this.windowMs;
  }
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  delayMs: number;
}

function json(status: number, value: unknown): Answer {
  return { status, headers: {}, body: Buffer.from(JSON.stringify(value)), delayMs: 0 };
}

function targetOf(message: unknown): string {
  if (typeof message !== 'object' || message === null) return '';
  const m = message as Record<string, unknown>;
  if (typeof m.token === 'string') return m.token;
  if (typeof m.topic === 'string') return `topic:${m.topic}`;
  if (typeof m.condition === 'string') return `condition:${m.condition}`;
  return '';
}

/**
 * In-process FCM HTTP v1 endpoint over HTTP/2 + TLS (HTTP/1.1 accepted too) for firebase-admin and
 * raw clients. Control it through the methods here or over HTTP under /__sim/ from another process.
 */
export class FcmSimulator {
  private server: Http2SecureServer | undefined;
  private readonly sockets = new Set<Socket>();
  private tls: SimulatorTls | undefined;
  private ownCertDir: string | undefined;
  private port = 0;

  private latencyMs: number;
  private quota: FcmSimulatorQuota | null;
  private defaultResponse: FcmSimResponse;
  private readonly replyOptions: ReplyOptions;
  private readonly limits: PayloadLimits;
  private readonly maxRecords: number;
  private compiledDefault: SimReply;
  private readonly prefixReplies = new Map<string, SimReply>();
  private readonly flakyReply: SimReply;
  private readonly unauthenticatedReply: SimReply;

  private records: FcmSimRequestRecord[] = [];
  private readonly recordsByToken = new Map<string, FcmSimRequestRecord[]>();
  private readonly attempts = new Map<string, number>();
  private readonly scripts = new Map<string, SimReply[]>();
  private readonly windows = new Map<string, RollingCounter>();
  private seq = 0;
  private readonly idPrefix = `0:${Date.now()}`;

  constructor(private readonly options: FcmSimulatorOptions = {}) {
    this.latencyMs = options.latencyMs ?? 0;
    this.quota = options.quota ?? null;
    this.defaultResponse = options.default ?? 'success';
    this.replyOptions = {
      quotaRetryAfterSeconds: options.quotaRetryAfterSeconds ?? 60,
      unavailableRetryAfterSeconds: options.unavailableRetryAfterSeconds ?? 1,
      retryInfoDetail: options.retryInfoDetail ?? false,
    };
    this.limits = {
      maxTitleLength: options.maxTitleLength ?? 1000,
      maxPayloadBytes: options.maxPayloadBytes ?? 4096,
      maxTopicPayloadBytes: Math.min(2048, options.maxPayloadBytes ?? 4096),
    };
    this.maxRecords = options.maxRecords ?? 1_000_000;
    this.compiledDefault = this.compile(this.defaultResponse);
    for (const [prefix, kind] of Object.entries(TOKEN_PREFIXES)) this.prefixReplies.set(prefix, this.compile(kind));
    this.flakyReply = this.compile('unavailable');
    this.unauthenticatedReply = this.compile('unauthenticated');
  }

  static async start(options: FcmSimulatorOptions = {}): Promise<FcmSimulator> {
    const sim = new FcmSimulator(options);
    await sim.listen();
    return sim;
  }

  get url(): string {
    if (!this.server) throw new Error('FCM simulator is not started');
    return `https://127.0.0.1:${this.port}`;
  }

  get caFile(): string {
    if (!this.tls) throw new Error('FCM simulator is not started');
    return this.tls.caFile;
  }

  get ca(): Buffer {
    if (!this.tls) throw new Error('FCM simulator is not started');
    return this.tls.ca;
  }

  async listen(): Promise<void> {
    if (this.server) return;
    if (this.options.certDir === undefined && this.ownCertDir === undefined) {
      this.ownCertDir = await mkdtemp(join(tmpdir(), 'pushledger-fcm-sim-'));
    }
    this.tls = await ensureSimulatorTls(this.options.certDir ?? this.ownCertDir);
    const server = createSecureServer({
      key: this.tls.key,
      cert: this.tls.cert,
      allowHTTP1: true,
      settings: { maxConcurrentStreams: this.options.maxConcurrentStreams ?? 100 },
    });
    // HTTP/1.1 arrives as 'request'. Adding that listener also routes HTTP/2 streams through the
    // compatibility layer; drop that route and serve HTTP/2 from the cheaper core 'stream' event.
    server.on('request', this.onHttp1Request);
    server.removeAllListeners('stream');
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

  // ---- control API ------------------------------------------------------------------------

  /** Queue answers for a token's next attempts; they take precedence over its prefix. */
  script(token: string, responses: FcmSimResponse[]): void {
    const queue = this.scripts.get(token) ?? [];
    for (const r of responses) queue.push(this.compile(r));
    this.scripts.set(token, queue);
  }

  setDefault(response: FcmSimResponse): void {
    this.defaultResponse = response;
    this.compiledDefault = this.compile(response);
  }

  configure(config: FcmSimulatorConfig): void {
    if (config.latencyMs !== undefined) this.latencyMs = Math.max(0, config.latencyMs);
    if (config.quota !== undefined) {
      this.quota = config.quota;
      this.windows.clear();
    }
    if (config.default !== undefined) this.setDefault(config.default);
  }

  requests(): readonly FcmSimRequestRecord[] {
    return this.records;
  }

  requestsFor(token: string): readonly FcmSimRequestRecord[] {
    return this.recordsByToken.get(token) ?? [];
  }

  /** Forgets records, attempt counters, scripts and quota windows; configuration stays. */
  reset(): void {
    this.records = [];
    this.recordsByToken.clear();
    this.attempts.clear();
    this.scripts.clear();
    this.windows.clear();
  }

  // ---- request handling -------------------------------------------------------------------

  private compile(response: FcmSimResponse): SimReply {
    return compileReply(response, this.replyOptions);
  }

  private readonly onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', () => undefined);
    stream.on('end', () => {
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      const answer = this.handle(String(headers[':method']), String(headers[':path']), headers.authorization, body, '2');
      const send = (): void => {
        if (stream.destroyed || stream.closed) return;
        stream.respond({ ':status': answer.status, 'content-type': JSON_TYPE, ...answer.headers });
        stream.end(answer.body);
      };
      if (answer.delayMs > 0) setTimeout(send, answer.delayMs);
      else send();
    });
  };

  private readonly onHttp1Request = (
    req: IncomingMessage | Http2ServerRequest,
    res: ServerResponse | Http2ServerResponse,
  ): void => {
    if (req.httpVersionMajor === 2) return; // served by onStream
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', () => undefined);
    req.on('end', () => {
      const answer = this.handle(req.method ?? 'GET', req.url ?? '/', req.headers.authorization, Buffer.concat(chunks), '1.1');
      const send = (): void => {
        if (res.destroyed) return;
        const r = res as ServerResponse;
        r.writeHead(answer.status, { 'content-type': JSON_TYPE, 'content-length': String(answer.body.length), ...answer.headers });
        r.end(answer.body);
      };
      if (answer.delayMs > 0) setTimeout(send, answer.delayMs);
      else send();
    });
  };

  private handle(method: string, path: string, authorization: string | undefined, body: Buffer, httpVersion: '1.1' | '2'): Answer {
    if (method === 'POST' && path.startsWith(SEND_PREFIX) && path.endsWith(SEND_SUFFIX)) {
      const project = path.slice(SEND_PREFIX.length, path.length - SEND_SUFFIX.length);
      if (project.length > 0 && !project.includes('/')) return this.send(project, authorization, body, httpVersion);
    }
    if (path.startsWith('/__sim/')) return this.control(method, path, body);
    return json(404, { error: { code: 404, message: 'Requested entity was not found.', status: 'NOT_FOUND' } });
  }

  private send(project: string, authorization: string | undefined, body: Buffer, httpVersion: '1.1' | '2'): Answer {
    const now = Date.now();
    let parsed: { message?: unknown; validate_only?: unknown } | undefined;
    try {
      parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
    } catch {
      parsed = undefined;
    }
    const message = parsed?.message;
    const token = targetOf(message);
    const attempt = (this.attempts.get(token) ?? 0) + 1;
    this.attempts.set(token, attempt);
    const validateOnly = parsed?.validate_only === true;

    let reply: SimReply | undefined;
    let retryAfterMs = 0;
    if (authorization === undefined || !authorization.startsWith('Bearer ')) {
      reply = this.unauthenticatedReply;
    } else if (parsed === undefined || typeof parsed !== 'object') {
      reply = this.compile({
        status: 400,
        body: { error: { code: 400, message: 'Invalid JSON payload received.', status: 'INVALID_ARGUMENT' } },
      });
    } else if (this.quota && (retryAfterMs = this.takeQuota(project, now)) > 0) {
      reply = this.compile({ kind: 'quota-exceeded', retryAfterSeconds: this.quota.retryAfterSeconds ?? Math.ceil(retryAfterMs / 1000) });
    } else {
      reply = this.scripts.get(token)?.shift() ?? validateMessage(message, body.length, this.limits) ?? this.byToken(token, attempt);
    }

    const record: FcmSimRequestRecord = {
      seq: ++this.seq,
      time: now,
      project,
      token,
      message,
      validateOnly,
      status: reply.status,
      errorCode: reply.errorCode,
      attempt,
      httpVersion,
      ...(authorization?.startsWith('Bearer ') ? { bearer: authorization.slice(7) } : {}),
    };
    this.record(record);

    const responseBody =
      reply.body ?? Buffer.from(`{"name":"projects/${project}/messages/${validateOnly ? 'fake_message_id' : `${this.idPrefix}%${this.seq}`}"}`);
    return { status: reply.status, headers: reply.headers, body: responseBody, delayMs: this.latencyMs };
  }

  private byToken(token: string, attempt: number): SimReply {
    const colon = token.indexOf(':');
    if (colon <= 0) return this.compiledDefault;
    const prefix = token.slice(0, colon);
    const known = this.prefixReplies.get(prefix);
    if (known) return known;
    const flaky = FLAKY.exec(prefix);
    if (flaky) return attempt <= Number(flaky[1]) ? this.flakyReply : this.prefixReplies.get('ok')!;
    return this.compiledDefault;
  }

  private takeQuota(project: string, now: number): number {
    const quota = this.quota!;
    let counter = this.windows.get(project);
    if (!counter || counter.window !== quota.windowMs) {
      counter = new RollingCounter(quota.windowMs);
      this.windows.set(project, counter);
    }
    return counter.take(now, quota.messages);
  }

  private record(record: FcmSimRequestRecord): void {
    this.records.push(record);
    let perToken = this.recordsByToken.get(record.token);
    if (!perToken) {
      perToken = [];
      this.recordsByToken.set(record.token, perToken);
    }
    perToken.push(record);
    if (this.records.length > this.maxRecords) this.trim();
  }

  private trim(): void {
    const drop = Math.max(1, Math.floor(this.maxRecords / 10));
    const firstKept = this.records[drop].seq;
    this.records = this.records.slice(drop);
    for (const [token, list] of this.recordsByToken) {
      const kept = list.filter((r) => r.seq >= firstKept);
      if (kept.length === 0) this.recordsByToken.delete(token);
      else if (kept.length !== list.length) this.recordsByToken.set(token, kept);
    }
  }

  private control(method: string, path: string, body: Buffer): Answer {
    const [route, query = ''] = path.split('?', 2);
    let input: Record<string, unknown> = {};
    if (method === 'POST' && body.length > 0) {
      try {
        input = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      } catch {
        return json(400, { error: 'body is not JSON' });
      }
    }
    try {
      if (method === 'GET' && route === '/__sim/requests') {
        const token = new URLSearchParams(query).get('token');
        return json(200, token === null ? this.records : this.requestsFor(token));
      }
      if (method === 'GET' && route === '/__sim/health') return json(200, { ok: true, url: this.url, caFile: this.caFile });
      if (method === 'POST' && route === '/__sim/script') {
        if (typeof input.token !== 'string' || !Array.isArray(input.responses)) {
          return json(400, { error: 'expected {"token": string, "responses": [...]}' });
        }
        this.script(input.token, input.responses as FcmSimResponse[]);
        return json(200, { ok: true });
      }
      if (method === 'POST' && route === '/__sim/config') {
        this.configure(input as FcmSimulatorConfig);
        return json(200, { ok: true, latencyMs: this.latencyMs, quota: this.quota, default: this.defaultResponse });
      }
      if (method === 'POST' && route === '/__sim/reset') {
        this.reset();
        return json(200, { ok: true });
      }
    } catch (err) {
      return json(400, { error: (err as Error).message });
    }
    return json(404, { error: `no simulator route ${method} ${route}` });
  }
}
