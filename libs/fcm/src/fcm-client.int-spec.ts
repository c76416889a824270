// firebase-admin (real send / sendEach over HTTP/2 / sendEachForMulticast) against the in-process
// FCM simulator. Needs no external engine: only openssl and loopback sockets.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deleteApp } from 'firebase-admin/app';
import type { Messaging, SendResponse } from 'firebase-admin/messaging';
import { classifyFcmError, createMessaging, fcmErrorResponse, type FcmErrorAction } from './fcm-client';
import { FcmSimulator } from './simulator/fcm-simulator';

interface Case {
  token: string;
  code: string;
  action: FcmErrorAction;
  status: number;
}

// One case per row of the fcm.md table (plus PERMISSION_DENIED without SENDER_ID_MISMATCH).
const ERROR_CASES: Case[] = [
  { token: 'unregistered:a', code: 'messaging/registration-token-not-registered', action: 'invalidate_token', status: 404 },
  { token: 'invalid:a', code: 'messaging/invalid-argument', action: 'invalidate_token', status: 400 },
  { token: 'mismatch:a', code: 'messaging/mismatched-credential', action: 'bounce', status: 403 },
  { token: 'quota:a', code: 'messaging/message-rate-exceeded', action: 'retry', status: 429 },
  { token: 'internal:a', code: 'messaging/internal-error', action: 'retry', status: 500 },
  { token: 'thirdparty:a', code: 'messaging/third-party-auth-error', action: 'credential_error', status: 401 },
  { token: 'notfound:a', code: 'messaging/registration-token-not-registered', action: 'config_error', status: 404 },
  { token: 'unknown:a', code: 'messaging/unknown-error', action: 'unknown', status: 500 },
  { token: 'denied:a', code: 'messaging/mismatched-credential', action: 'credential_error', status: 403 },
];

const LONG_TITLE = 'x'.repeat(1001);
const BIG_DATA = { blob: 'y'.repeat(5000) };

describe('firebase-admin against the FCM simulator', () => {
  let certDir: string;
  let sim: FcmSimulator;
  let messaging: Messaging;

  beforeAll(async () => {
    certDir = mkdtempSync(join(tmpdir(), 'fcm-int-'));
    sim = await FcmSimulator.start({ certDir, unavailableRetryAfterSeconds: 1 });
    messaging = createMessaging({ appName: 'fcm-int', projectId: 'proj-a', serviceAccount: null, endpoint: sim.url, caFile: sim.caFile });
  });

  afterAll(async () => {
    await deleteApp(messaging.app);
    await sim.stop();
    rmSync(certDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    sim.reset();
    sim.configure({ quota: null, latencyMs: 0, default: 'success' });
  });

  async function sendError(message: Parameters<Messaging['send']>[0]): Promise<unknown> {
    try {
      await messaging.send(message);
    } catch (err) {
      return err;
    }
    throw new Error('send did not fail');
  }

  describe('send (HTTP/1.1 through the redirect agent)', () => {
    it('delivers and gets a message name', async () => {
      const name = await messaging.send({ token: 'device-1', notification: { title: 'hi' }, data: { k: 'v' } });
      expect(name).toMatch(/^projects\/proj-a\/messages\/.+/);
      const [record] = sim.requestsFor('device-1');
      expect(record).toMatchObject({ project: 'proj-a', status: 200, attempt: 1, httpVersion: '1.1' });
      expect(record.message).toEqual({ token: 'device-1', notification: { title: 'hi' }, data: { k: 'v' } });
    });

    it.each(ERROR_CASES)('$token -> $code -> $action', async ({ token, code, action, status }) => {
      const err = await sendError({ token });
      expect((err as { code: string }).code).toBe(code);
      const c = classifyFcmError(err);
      expect(c).toMatchObject({ action, code, httpStatus: status, basis: 'response' });
    });

    it('rejects a too-long title and a too-big payload as message errors', async () => {
      for (const message of [{ token: 'ok:t', notification: { title: LONG_TITLE } }, { token: 'ok:t', data: BIG_DATA }]) {
        const err = await sendError(message);
        expect((err as { code: string }).code).toBe('messaging/invalid-argument');
        expect(classifyFcmError(err)).toMatchObject({ action: 'fail_message', httpStatus: 400 });
      }
    });

    it('quota carries Retry-After into retryAfterMs', async () => {
      const c = classifyFcmError(await sendError({ token: 'quota:q' }));
      expect(c).toMatchObject({ action: 'retry', retryAfterMs: 60_000, httpStatus: 429, fcmErrorCode: 'QUOTA_EXCEEDED' });
    });
  });

  describe('sendEach / sendEachForMulticast (HTTP/2 through the connect wrapper)', () => {
    it('maps every error kind in one batch', async () => {
      const tokens = ['ok:1', ...ERROR_CASES.map((c) => c.token)];
      const batch = await messaging.sendEach([
        ...tokens.map((token) => ({ token, data: { n: '1' } })),
        { token: 'ok:title', notification: { title: LONG_TITLE } },
        { token: 'ok:big', data: BIG_DATA },
      ]);
      expect(batch.successCount).toBe(1);
      expect(batch.responses[0]).toMatchObject({ success: true, messageId: expect.stringMatching(/^projects\/proj-a\/messages\//) });
      ERROR_CASES.forEach((c, i) => {
        const r = batch.responses[i + 1];
        expect(r.success).toBe(false);
        expect(r.error?.code).toBe(c.code);
        expect(classifyFcmError(r.error)).toMatchObject({ action: c.action, httpStatus: c.status, basis: 'response' });
      });
      for (const r of batch.responses.slice(-2)) {
        expect(r.error?.code).toBe('messaging/invalid-argument');
        expect(classifyFcmError(r.error).action).toBe('fail_message');
      }
      expect(sim.requests().every((r) => r.httpVersion === '2')).toBe(true);
    });

    it('multicast fans out over HTTP/2 with the same mapping', async () => {
      const batch = await messaging.sendEachForMulticast({ tokens: ['ok:m1', 'unregistered:m2', 'notfound:m3'], notification: { title: 't' } });
      expect(batch.responses.map((r: SendResponse) => r.success)).toEqual([true, false, false]);
      expect(classifyFcmError(batch.responses[1].error).action).toBe('invalidate_token');
      expect(classifyFcmError(batch.responses[2].error).action).toBe('config_error');
      expect(sim.requestsFor('unregistered:m2')[0]).toMatchObject({ httpVersion: '2', status: 404, errorCode: 'UNREGISTERED' });
    });

    it('records every attempt: the SDK retries 503 (honouring Retry-After) and flaky tokens recover', async () => {
      const batch = await messaging.sendEach([{ token: 'unavailable:u' }, { token: 'flaky2:f' }]);
      expect(batch.responses[0].error?.code).toBe('messaging/server-unavailable');
      const c = classifyFcmError(batch.responses[0].error);
      expect(c).toMatchObject({ action: 'retry', retryAfterMs: 1000, httpStatus: 503 });
      expect(sim.requestsFor('unavailable:u').map((r) => [r.attempt, r.status])).toEqual([
        [1, 503], [2, 503], [3, 503], [4, 503], [5, 503],
      ]);
      expect(batch.responses[1].success).toBe(true);
      expect(sim.requestsFor('flaky2:f').map((r) => [r.attempt, r.status])).toEqual([[1, 503], [2, 503], [3, 200]]);
    });

    it('project quota yields 429 with Retry-After and retryAfterMs', async () => {
      sim.configure({ quota: { messages: 10, windowMs: 60_000 } });
      const batch = await messaging.sendEach(Array.from({ length: 12 }, (_, i) => ({ token: `q-${i}` })));
      expect(batch.successCount).toBe(10);
      const failures = batch.responses.filter((r) => !r.success);
      expect(failures).toHaveLength(2);
      for (const f of failures) {
        expect(f.error?.code).toBe('messaging/message-rate-exceeded');
        const c = classifyFcmError(f.error);
        expect(c.action).toBe('retry');
        expect(c.retryAfterMs).toBeGreaterThan(0);
        expect(c.retryAfterMs).toBeLessThanOrEqual(60_000);
        expect(fcmErrorResponse(f.error)?.retryAfter).toMatch(/^\d+$/);
      }
      expect(sim.requests().filter((r) => r.status === 429)).toHaveLength(2);
    });

    it('scripts and the default answer drive per-token behaviour', async () => {
      sim.script('scripted', ['internal', { kind: 'quota-exceeded', retryAfterSeconds: 7 }]);
      const first = await messaging.sendEach([{ token: 'scripted' }]);
      expect(classifyFcmError(first.responses[0].error).action).toBe('retry');
      const second = await messaging.sendEach([{ token: 'scripted' }]);
      expect(classifyFcmError(second.responses[0].error)).toMatchObject({ action: 'retry', retryAfterMs: 7000 });
      const third = await messaging.sendEach([{ token: 'scripted' }]);
      expect(third.successCount).toBe(1);
      expect(sim.requestsFor('scripted').map((r) => r.attempt)).toEqual([1, 2, 3]);

      sim.setDefault('unregistered');
      const dead = await messaging.sendEach([{ token: 'plain-token' }]);
      expect(classifyFcmError(dead.responses[0].error).action).toBe('invalidate_token');
    });

    it('redirects per Messaging instance: two simulators, two instances, concurrent batches', async () => {
      const other = await FcmSimulator.start({ certDir });
      const second = createMessaging({ appName: 'fcm-int', projectId: 'proj-b', serviceAccount: null, endpoint: other.url, caFile: other.caFile });
      try {
        expect(second.app.name).not.toBe(messaging.app.name);
        await Promise.all([
          messaging.sendEach([{ token: 'to-a' }]),
          second.sendEachForMulticast({ tokens: ['to-b1', 'to-b2'] }),
          second.send({ token: 'to-b3' }),
        ]);
        expect(sim.requests().map((r) => r.token)).toEqual(['to-a']);
        expect(other.requests().map((r) => `${r.project}/${r.token}`).sort()).toEqual(['proj-b/to-b1', 'proj-b/to-b2', 'proj-b/to-b3']);
      } finally {
        await deleteApp(second.app);
        await other.stop();
      }
    });

    it('dry run reaches the simulator with validate_only', async () => {
      const batch = await messaging.sendEach([{ token: 'dry' }], true);
      expect(batch.responses[0].messageId).toBe('projects/proj-a/messages/fake_message_id');
      expect(sim.requestsFor('dry')[0].validateOnly).toBe(true);
    });
  });

  it('throughput smoke: 5,000 messages via sendEach in batches of 500', async () => {
    const total = 5000;
    const batchSize = 500;
    const inFlight = 4;
    const batches = Array.from({ length: total / batchSize }, (_, b) =>
      Array.from({ length: batchSize }, (_, i) => ({ token: `bulk-${b}-${i}`, notification: { title: 'hello' }, data: { i: String(i) } })),
    );
    const started = process.hrtime.bigint();
    let ok = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < batches.length) {
          const batch = batches[next++];
          const result = await messaging.sendEach(batch);
          ok += result.successCount;
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(`firebase-admin sendEach -> FCM simulator (same process): ${total} messages in ${seconds.toFixed(2)} s = ${Math.round(total / seconds)} msg/s`);
    expect(ok).toBe(total);
    expect(sim.requests()).toHaveLength(total);
  });

  it('throughput smoke: 1,000 messages via send (HTTP/1.1, keep-alive agent)', async () => {
    const total = 1000;
    const started = process.hrtime.bigint();
    let next = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < total) await messaging.send({ token: `single-${next++}` });
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(`firebase-admin send (HTTP/1.1) -> FCM simulator: ${total} messages in ${seconds.toFixed(2)} s = ${Math.round(total / seconds)} msg/s`);
    expect(sim.requests()).toHaveLength(total);
  });
});
