// The simulator seen by raw clients (no firebase-admin): HTTP/2 and HTTP/1.1, auth, payload checks,
// the /__sim/ control routes, certificate caching.
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect, type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureSimulatorTls } from './fcm-simulator-certs';
import { FcmSimulator } from './fcm-simulator';
import { FcmSimulatorClient } from './fcm-simulator-client';

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: any;
}

function h2(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = session.request(headers);
    const chunks: Buffer[] = [];
    let head: Record<string, unknown> = {};
    req.on('response', (h) => (head = h));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      resolve({ status: Number(head[':status']), headers: head, body: text ? JSON.parse(text) : undefined });
    });
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe('FCM simulator (raw clients)', () => {
  let certDir: string;
  let sim: FcmSimulator;
  let session: ClientHttp2Session;
  const send = (body: unknown, auth = true, project = 'raw'): Promise<Answer> =>
    h2(
      session,
      {
        ':method': 'POST',
        ':path': `/v1/projects/${project}/messages:send`,
        'content-type': 'application/json',
        ...(auth ? { authorization: 'Bearer anything' } : {}),
      },
      body,
    );

  beforeAll(async () => {
    certDir = mkdtempSync(join(tmpdir(), 'fcm-sim-'));
    sim = await FcmSimulator.start({ certDir });
    session = connect(sim.url, { ca: sim.ca, servername: 'fcm.googleapis.com' });
  });

  afterAll(async () => {
    session.close();
    await sim.stop();
    rmSync(certDir, { recursive: true, force: true });
  });

  beforeEach(() => sim.reset());

  it('answers the FCM v1 send route with a message name', async () => {
    const a = await send({ message: { token: 'abc', notification: { title: 't' } } });
    expect(a.status).toBe(200);
    expect(a.body.name).toMatch(/^projects\/raw\/messages\/0:\d+%\d+$/);
  });

  it('requires a Bearer token: 401 UNAUTHENTICATED without', async () => {
    const a = await send({ message: { token: 'abc' } }, false);
    expect(a.status).toBe(401);
    expect(a.body.error).toMatchObject({ code: 401, status: 'UNAUTHENTICATED' });
    expect(sim.requestsFor('abc')[0]).toMatchObject({ status: 401, attempt: 1 });
  });

  it('sends exact FCM error bodies, with Retry-After where FCM sends it', async () => {
    const unregistered = await send({ message: { token: 'unregistered:x' } });
    expect(unregistered.status).toBe(404);
    expect(unregistered.body).toEqual({
      error: {
        code: 404,
        message: 'Requested entity was not found.',
        status: 'NOT_FOUND',
        details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'UNREGISTERED' }],
      },
    });
    const notFound = await send({ message: { token: 'notfound:x' } });
    expect(notFound.body).toEqual({ error: { code: 404, message: 'Requested entity was not found.', status: 'NOT_FOUND' } });
    const quota = await send({ message: { token: 'quota:x' } });
    expect(quota.status).toBe(429);
    expect(quota.headers['retry-after']).toBe('60');
    const unavailable = await send({ message: { token: 'unavailable:x' } });
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers['retry-after']).toBe('1');
  });

  it('rejects non-string data values and long titles with BadRequest fieldViolations', async () => {
    const a = await send({ message: { token: 'ok:x', data: { a: 'fine', b: 123 }, notification: { title: 'z'.repeat(1001) } } });
    expect(a.status).toBe(400);
    expect(a.body.error.status).toBe('INVALID_ARGUMENT');
    expect(a.body.error.details[0]).toEqual({
      '@type': 'type.googleapis.com/google.rpc.BadRequest',
      fieldViolations: [
        { field: 'message.data[1].value', description: "Invalid value at 'message.data[1].value' (TYPE_STRING), 123" },
        { field: 'message.notification.title', description: "Invalid value at 'message.notification.title': longer than 1000 characters" },
      ],
    });
  });

  it('enforces the 4,096-byte payload limit (2,048 for topics)', async () => {
    expect((await send({ message: { token: 'ok:x', data: { a: 'q'.repeat(4000) } } })).status).toBe(200);
    const big = await send({ message: { token: 'ok:x', data: { a: 'q'.repeat(4100) } } });
    expect(big.status).toBe(400);
    expect(big.body.error.details.map((d: { '@type': string }) => d['@type'])).toEqual([
      'type.googleapis.com/google.firebase.fcm.v1.FcmError',
      'type.googleapis.com/google.rpc.BadRequest',
    ]);
    expect((await send({ message: { topic: 'news', data: { a: 'q'.repeat(2100) } } })).status).toBe(400);
    // The limit is on the payload a device gets (notification and data); platform delivery options do not count.
    const options = { android: { collapse_key: 'k'.repeat(64), notification: { tag: 'k'.repeat(64) } }, apns: { headers: { 'apns-collapse-id': 'k'.repeat(64) }, payload: { aps: {} } } };
    expect((await send({ message: { token: 'ok:x', data: { a: 'q'.repeat(4070) }, ...options } })).status).toBe(200);
  });

  it('adds latency and keeps a per-project rolling quota', async () => {
    sim.configure({ latencyMs: 50, quota: { messages: 2, windowMs: 60_000 } });
    const started = Date.now();
    const answers = await Promise.all([1, 2, 3].map((i) => send({ message: { token: `lat-${i}` } }, true, 'quota-proj')));
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 429]);
    const rejected = answers.find((a) => a.status === 429)!;
    expect(Number(rejected.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(rejected.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect((await send({ message: { token: 'other' } }, true, 'another-proj')).status).toBe(200);
    sim.configure({ latencyMs: 0, quota: null });
  });

  it('cannot accept the pseudo-header :scheme "https:" (why the client wrapper rewrites it)', async () => {
    await expect(
      h2(session, { ':method': 'POST', ':scheme': 'https:', ':path': '/v1/projects/raw/messages:send', authorization: 'Bearer x' }, { message: { token: 'x' } }),
    ).rejects.toMatchObject({ code: 'ERR_HTTP2_STREAM_ERROR' });
  });

  it('serves HTTP/1.1 clients too', async () => {
    const answer = await new Promise<Answer>((resolve, reject) => {
      const req = httpsRequest(
        `${sim.url}/v1/projects/h1/messages:send`,
        { method: 'POST', ca: sim.ca, servername: 'fcm.googleapis.com', headers: { authorization: 'Bearer x', 'content-type': 'application/json' } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString()) }));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ message: { token: 'mismatch:h1' } }));
    });
    expect(answer.status).toBe(403);
    expect(answer.body.error.details[0].errorCode).toBe('SENDER_ID_MISMATCH');
    expect(sim.requestsFor('mismatch:h1')[0].httpVersion).toBe('1.1');
  });

  it('is drivable over HTTP from another process (/__sim/ routes)', async () => {
    const control = new FcmSimulatorClient(sim.url, sim.caFile);
    await control.script('remote', ['third-party-auth', { status: 418, body: { error: { code: 418, message: 'teapot', status: 'TEAPOT' } } }]);
    await control.configure({ default: 'internal' });
    expect((await send({ message: { token: 'remote' } })).status).toBe(401);
    expect((await send({ message: { token: 'remote' } })).status).toBe(418);
    expect((await send({ message: { token: 'remote' } })).status).toBe(500);
    const records = await control.requests('remote');
    expect(records.map((r) => [r.attempt, r.status])).toEqual([[1, 401], [2, 418], [3, 500]]);
    await control.setDefault('success');
    await control.reset();
    expect(await control.requests()).toEqual([]);
    expect((await send({ message: { token: 'remote' } })).status).toBe(200);
  });

  it('reuses cached certificates in the same directory', async () => {
    const again = await ensureSimulatorTls(certDir);
    expect(again.caFile).toBe(sim.caFile);
    expect(again.ca.equals(sim.ca)).toBe(true);
  });
});
