import { createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, type RequestOptions } from 'node:https';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { cert, getApps, initializeApp, type AppOptions, type Credential, type ServiceAccount } from 'firebase-admin/app';
import { getMessaging, type Messaging } from 'firebase-admin/messaging';
import { FCM_RESPONSE, type FcmErrorResponse } from './fcm-error-classifier';
// The real module object (no interop copy): firebase-admin calls http2.connect through it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
import http2 = require('node:http2');

export { classifyFcmError, fcmErrorResponse, parseRetryAfter } from './fcm-error-classifier';
export type { FcmErrorAction, FcmErrorClassification, FcmErrorResponse } from './fcm-error-classifier';

export const FCM_HOST = 'fcm.googleapis.com';
const FCM_ORIGIN = `https://${FCM_HOST}`;
const HOOKED = Symbol.for('pushledger.fcm.hooked');

export interface CreateMessagingOptions {
  /** Base name of the firebase-admin app; a suffix is added when an app of that name exists. */
  appName: string;
  projectId: string;
  /** null: a fixed fake access token, no OAuth round trip (only together with `endpoint`). */
  serviceAccount: ServiceAccount | string | null;
  /** e.g. the simulator's `https://127.0.0.1:<port>`; all FCM send traffic goes there. */
  endpoint?: string;
  /** CA that the endpoint's certificate (issued for fcm.googleapis.com) chains to. */
  caFile?: string;
}

interface Redirect {
  origin: string;
  host: string;
  port: number;
  ca: Buffer;
}

type Hooked<T> = T & { [HOOKED]?: true };

const simulatorCredential: Credential = {
  getAccessToken: () => Promise.resolve({ access_token: 'sim-token', expires_in: 3600 }),
};

/**
 * Toward a redirected endpoint a service account signs its own access token (Google's self-signed JWT,
 * audience the FCM API) instead of asking Google's OAuth server, which the endpoint does not stand in for.
 */
function selfSignedJwtCredential(account: ServiceAccount): Credential {
  const raw = account as ServiceAccount & { client_email?: string; private_key?: string; private_key_id?: string };
  const email = raw.clientEmail ?? raw.client_email;
  const privateKey = raw.privateKey ?? raw.private_key;
  if (!email || !privateKey) throw new Error('createMessaging: the service account needs client_email and private_key');
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return {
    getAccessToken: () => {
      const now = Math.floor(Date.now() / 1000);
      const unsigned = `${b64({ alg: 'RS256', typ: 'JWT', ...(raw.private_key_id ? { kid: raw.private_key_id } : {}) })}.${b64({ iss: email, sub: email, aud: `${FCM_ORIGIN}/`, iat: now, exp: now + 3600 })}`;
      const signature = createSign('RSA-SHA256').update(unsigned).sign(privateKey, 'base64url');
      return Promise.resolve({ access_token: `${unsigned}.${signature}`, expires_in: 3600 });
    },
  };
}

/** HTTP/1.1 path (`send`, legacy `sendEach`): connections meant for fcm.googleapis.com go to the endpoint. */
class FcmRedirectAgent extends Agent {
  constructor(private readonly target: Redirect) {
    super({ keepAlive: true, maxFreeSockets: 256 });
  }

  override createConnection(options: RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    if (options.host !== FCM_HOST && options.hostname !== FCM_HOST) return super.createConnection(options, callback);
    return tlsConnect({
      host: this.target.host,
      port: this.target.port,
      ca: this.target.ca,
      servername: FCM_HOST,
      ALPNProtocols: ['http/1.1'],
    });
  }
}

// Set only while a redirected instance's sendEach runs synchronously: firebase-admin 13 constructs
// its Http2SessionHandler (and so calls http2.connect) right there. A plain variable rather than
// AsyncLocalStorage, which would switch on promise hooks for the whole process; the guard in
// createMessaging fails loudly should a later SDK connect asynchronously.
let activeRedirect: Redirect | undefined;
let redirectedConnects = 0;

function isFcmOrigin(authority: unknown): boolean {
  if (authority === FCM_ORIGIN || authority === `${FCM_ORIGIN}/` || authority === `${FCM_ORIGIN}:443`) return true;
  if (authority instanceof URL) return authority.protocol === 'https:' && authority.hostname === FCM_HOST && (authority.port === '' || authority.port === '443');
  return false;
}

/**
 * HTTP/2 path (`sendEach*`): firebase-admin calls `http2.connect('https://fcm.googleapis.com', opts)`
 * itself, so the module's connect is wrapped once per process. Only calls made while a redirected
 * instance's sendEach runs and aimed at fcm.googleapis.com are redirected; all else passes through.
 */
function installHttp2Redirect(): void {
  const mod = http2 as { connect: Hooked<typeof http2.connect> };
  if (mod.connect[HOOKED]) return;
  const original = mod.connect;
  const connect = function (this: unknown, authority: string | URL, ...rest: unknown[]): http2.ClientHttp2Session {
    const target = activeRedirect;
    if (!target || !isFcmOrigin(authority)) return (original as (...args: unknown[]) => http2.ClientHttp2Session).call(this, authority, ...rest);
    const listener = typeof rest[0] === 'function' ? rest[0] : rest[1];
    const options = typeof rest[0] === 'object' && rest[0] !== null ? (rest[0] as http2.SecureClientSessionOptions) : {};
    redirectedConnects++;
    const session = original(target.origin, { ...options, ca: target.ca, servername: FCM_HOST }, listener as never);
    const request = session.request;
    // firebase-admin sends ':scheme: https:' (from url.parse().protocol). Google's front end takes it;
    // nghttp2 in any Node server resets the stream with PROTOCOL_ERROR before JS sees it, so it is
    // fixed here. The SDK builds a fresh header object per request, so editing it in place is safe.
    session.request = function (this: http2.ClientHttp2Session, headers?: http2.OutgoingHttpHeaders, opts?: http2.ClientSessionRequestOptions) {
      if (headers) {
        if (headers[':scheme'] === 'https:') headers[':scheme'] = 'https';
        if (headers[':authority'] === undefined) headers[':authority'] = FCM_HOST;
      }
      return request.call(this, headers, opts);
    };
    return session;
  } as Hooked<typeof http2.connect>;
  connect[HOOKED] = true;
  mod.connect = connect;
}

let captureInstalled: boolean | undefined;

/**
 * firebase-admin 13 turns every FCM error answer into a FirebaseMessagingError that keeps only
 * `code` and `message`: not the status, not Retry-After, not the body's details. Its internal
 * `createFirebaseError(RequestResponseError)` still has all three, and it is called through the
 * module's exports, so it is wrapped to attach them to the error (under FCM_RESPONSE). Works on
 * both transports and against real Google. Returns false when this SDK build has no such hook;
 * classifyFcmError then falls back to error.code alone.
 */
export function installFcmErrorCapture(): boolean {
  if (captureInstalled !== undefined) return captureInstalled;
  captureInstalled = false;
  let internals: { createFirebaseError?: Hooked<(err: unknown) => unknown> };
  try {
    const file = join(dirname(require.resolve('firebase-admin/messaging')), 'messaging-errors-internal.js');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    internals = require(file) as typeof internals;
  } catch {
    return false;
  }
  const original = internals.createFirebaseError;
  if (typeof original !== 'function') return false;
  if (!original[HOOKED]) {
    const wrapped: Hooked<(err: unknown) => unknown> = (err: unknown) => {
      const error = original(err);
      try {
        attachResponse(error, (err as { response?: unknown } | null)?.response);
      } catch {
        // capture is best effort; the SDK's error stands as is
      }
      return error;
    };
    wrapped[HOOKED] = true;
    internals.createFirebaseError = wrapped;
  }
  captureInstalled = true;
  return true;
}

function attachResponse(error: unknown, response: unknown): void {
  if (typeof error !== 'object' || error === null || typeof response !== 'object' || response === null) return;
  const r = response as { status?: unknown; headers?: Record<string, unknown>; isJson?: () => boolean; data?: unknown; text?: unknown };
  if (typeof r.status !== 'number') return;
  const header = r.headers?.['retry-after'];
  let body: unknown;
  try {
    body = r.isJson?.() ? r.data : r.text;
  } catch {
    body = undefined;
  }
  const captured: FcmErrorResponse = {
    status: r.status,
    retryAfter: Array.isArray(header) ? String(header[0]) : header === undefined ? undefined : String(header),
    body,
  };
  Object.defineProperty(error, FCM_RESPONSE, { value: captured, enumerable: false, configurable: true });
}

function parseEndpoint(endpoint: string, caFile: string): Redirect {
  const url = new URL(endpoint);
  if (url.protocol !== 'https:') throw new Error(`FCM endpoint must be https: ${endpoint}`);
  const port = url.port === '' ? 443 : Number(url.port);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { origin: `https://${url.host}`, host, port, ca: readFileSync(caFile) };
}

function uniqueAppName(base: string): string {
  const taken = new Set(getApps().map((a) => a.name));
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`;
}

/**
 * A firebase-admin Messaging on its own app. With `endpoint` + `caFile`, all of its send traffic
 * (HTTP/1.1 and HTTP/2) reaches that endpoint through the SDK's real code path. Delete it with
 * `deleteApp(messaging.app)`.
 */
export function createMessaging(options: CreateMessagingOptions): Messaging {
  if ((options.endpoint === undefined) !== (options.caFile === undefined)) {
    throw new Error('createMessaging: endpoint and caFile go together');
  }
  if (options.serviceAccount === null && options.endpoint === undefined) {
    throw new Error('createMessaging: a null serviceAccount (fake token) is only for a redirected endpoint');
  }
  installFcmErrorCapture();
  const redirect = options.endpoint !== undefined ? parseEndpoint(options.endpoint, options.caFile!) : undefined;
  const appOptions: AppOptions = {
    credential: options.serviceAccount === null ? simulatorCredential : redirect && typeof options.serviceAccount === 'object' ? selfSignedJwtCredential(options.serviceAccount) : cert(options.serviceAccount),
    projectId: options.projectId,
  };
  if (redirect) appOptions.httpAgent = new FcmRedirectAgent(redirect);
  const app = initializeApp(appOptions, uniqueAppName(options.appName));
  const messaging = getMessaging(app);
  if (redirect) {
    installHttp2Redirect();
    const sendEach = messaging.sendEach;
    // sendEachForMulticast goes through this.sendEach, so it is covered too.
    messaging.sendEach = (messages, dryRun) => {
      const outer = activeRedirect;
      const before = redirectedConnects;
      activeRedirect = redirect;
      let result: ReturnType<Messaging['sendEach']>;
      try {
        result = sendEach.call(messaging, messages, dryRun);
      } finally {
        activeRedirect = outer;
      }
      if (redirectedConnects === before && !(messaging as unknown as { useLegacyTransport?: boolean }).useLegacyTransport) {
        result.catch(() => undefined);
        throw new Error('createMessaging: firebase-admin did not open its HTTP/2 session inside sendEach; this SDK version cannot be redirected');
      }
      return result;
    };
  }
  return messaging;
}
