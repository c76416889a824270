import type { Admin, Producer } from 'kafkajs';
import { groupFor, topicsFor } from '@pushledger/contracts';
import { FcmSimulator } from '@pushledger/fcm';
import { createProducer } from '@pushledger/kafka';
import { deviceIdFromToken } from '@pushledger/lifecycle';
import { AcceptedPush, api, finishedPush, PushOutcome, repoRoot, startStack, Stack, TestApp, testKafka, waitFor } from '@pushledger/testing';
import * as path from 'path';
import { isDeepStrictEqual } from 'util';

/**
 * Read-your-writes for sends: a push accepted right after a write's 2xx sees that write, whichever API
 * wrote it. Each push follows its write at once (nothing in between); only then does the test wait, for
 * the push's final outcomes, and look at what the FCM simulator received.
 */

type Api = ReturnType<typeof api>;

/** A device a write registered for a user. */
interface Written {
  deviceId: string;
  token: string;
  userId: string;
}

/** Everything a push left behind, in one object so a failure shows it whole. */
interface PushResult {
  /** The device's user as the store has it, read after the push: shows whether the write itself was applied. */
  owner: string | null;
  targeted: number;
  skipped: Record<string, number>;
  outcomes: PushOutcome[];
  /** Requests the simulator received for this message and this token. */
  received: number;
}

/** One API that registers a device for a user, and the push API its clients use next. */
interface Route {
  name: string;
  register(): Promise<Written>;
  push?(userId: string): Promise<AcceptedPush>;
}

const CONCURRENT_PAIRS = 8;
const ROUNDS = 3;

describe('a push right after a write reaches the device the write registered, through every API that writes', () => {
  let sim: FcmSimulator;
  let stack: Stack;
  let app: TestApp;
  let write: Api;
  let server: Api;
  let producer: Producer;
  let admin: Admin;
  let n = 0;

  beforeAll(async () => {
    sim = await FcmSimulator.start({ certDir: path.join(repoRoot, '.data/fcm-sim-test') });
    stack = await startStack(['gateway', 'registration', 'identity', 'relay', 'projector', 'campaign', 'delivery'], { FCM_ENDPOINT: sim.url, FCM_CA_FILE: sim.caFile });
    app = await stack.createApp({}, 'push_after_write');
    write = api(stack.url, app.writeKey);
    server = api(stack.url, app.serverKey);
    const kafka = testKafka();
    producer = createProducer(kafka);
    admin = kafka.admin();
    await Promise.all([producer.connect(), admin.connect()]);
    // The registration service creates its topics on start; publishing must not auto-create this one.
    await waitFor(async () => (await admin.listTopics()).includes(topicsFor(stack.suffix).ingest), { what: 'the ingest topic', timeoutMs: 30000 });
  });
  afterAll(async () => {
    if (process.env.DEBUG_STACK) console.log(stack?.logs());
    await producer?.disconnect().catch(() => undefined);
    await admin?.disconnect().catch(() => undefined);
    await stack?.stop();
    await sim?.stop();
  });

  const basic = (key: string) => ({ authorization: `Basic ${Buffer.from(`${app.id}:${key}`).toString('base64')}` });
  const unique = (label: string) => `paw-${label}-${Date.now().toString(36)}-${++n}`;
  // The `ok:` prefix makes the simulator answer success.
  const tokenOf = (id: string) => `ok:${id}:APA91b${'x'.repeat(40)}`;

  const pushToUser = async (userId: string, extra: Record<string, unknown> = {}): Promise<AcceptedPush> => {
    const res = await server.post('/v1/push', { to: { userId }, notification: { title: 'After write', body: `for ${userId}` }, ...extra });
    expect(res.status).toBe(202);
    return res.body as AcceptedPush;
  };

  const registerNative = async (label: string): Promise<Written> => {
    const deviceId = unique(label);
    const written = { deviceId, token: tokenOf(deviceId), userId: `${deviceId}-user` };
    const reg = await write.post('/v1/devices', { deviceId, token: written.token, provider: 'fcm', platform: 'android', userId: written.userId });
    expect(reg.status).toBe(201);
    return written;
  };

  const routes: Route[] = [
    { name: 'native POST /v1/devices {token, userId}', register: () => registerNative('native') },
    {
      name: 'native POST /v1/identify {userId, deviceId} of an anonymous device',
      register: async () => {
        const deviceId = unique('identify');
        const written = { deviceId, token: tokenOf(deviceId), userId: `${deviceId}-user` };
        expect((await write.post('/v1/devices', { deviceId, token: written.token, provider: 'fcm', platform: 'android' })).status).toBe(201);
        expect((await write.post('/v1/identify', { userId: written.userId, deviceId })).status).toBe(200);
        return written;
      },
    },
    {
      name: 'Twilio POST /v1/PushNotifications/DeviceRegistrations, then Twilio POST /v1/PushNotifications',
      register: async () => {
        const label = unique('twilio');
        const token = tokenOf(label);
        const userId = `comms_user_${label.replace(/-/g, '')}`;
        const reg = await api(stack.url).post('/v1/PushNotifications/DeviceRegistrations', { userId, token, appName: 'push_after_write', provider: 'FCM' }, basic(app.writeKey));
        expect(reg.status).toBe(201);
        return { deviceId: deviceIdFromToken(token), token, userId };
      },
      push: async (userId) => {
        const send = await api(stack.url).post('/v1/PushNotifications', { to: [{ userId }], content: { title: 'After write', body: 'Twilio' } }, basic(app.serverKey));
        expect(send.status).toBe(202);
        expect(send.body.messages).toHaveLength(1);
        return send.body.messages[0] as AcceptedPush;
      },
    },
    {
      name: 'Masivo PATCH /v1/customers/{customerId}/device-token',
      register: async () => {
        const userId = unique('masivo');
        const token = tokenOf(userId);
        const reg = await write.patch(`/v1/customers/${userId}/device-token`, { device_token: token, device_info: { platform: 'android', model: 'Pixel 8', osVersion: '14' } });
        expect(reg.status).toBe(200);
        return { deviceId: deviceIdFromToken(token), token, userId };
      },
    },
    {
      name: 'Customer.io PUT /api/v1/customers/{id}/devices',
      register: async () => {
        const userId = unique('cio');
        const token = tokenOf(userId);
        const reg = await api(stack.url).put(`/api/v1/customers/${userId}/devices`, { device: { id: token, platform: 'android' } }, basic(app.writeKey));
        expect(reg.status).toBe(200);
        return { deviceId: deviceIdFromToken(token), token, userId };
      },
    },
    {
      name: 'Kafka ingest: Intilery `register push` for a signed-in user, once applied',
      register: async () => {
        const topic = topicsFor(stack.suffix).ingest;
        const deviceId = unique('ingest');
        const written = { deviceId, token: tokenOf(deviceId), userId: `${deviceId}-user` };
        const [sent] = await producer.send({
          topic,
          acks: -1,
          messages: [{ key: deviceId, value: JSON.stringify({ type: 'track', event: 'register push', userId: written.userId, messageId: `${deviceId}-m`, properties: { deviceId, fcmToken: written.token, deviceType: 'Android' }, writeKey: app.writeKey }) }],
        });
        // Applied = the ingest consumer committed past the message (it commits only after the message's effect).
        const groupId = groupFor('pushledger-registration-ingest', stack.suffix);
        await waitFor(
          async () => {
            const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
            const at = committed.partitions.find((p) => p.partition === sent.partition);
            return at !== undefined && BigInt(at.offset) > BigInt(sent.baseOffset!);
          },
          { what: 'the ingest consumer to commit past the message', timeoutMs: 60000, intervalMs: 50 },
        );
        return written;
      },
    },
  ];

  /** The delivery service tags each FCM message with its message id. */
  const receivedFor = (token: string, messageId: string) =>
    sim.requestsFor(token).filter((r) => (r.message as { android?: { notification?: { tag?: string } } } | null)?.android?.notification?.tag === messageId.slice(0, 64));

  const resultOf = async (push: AcceptedPush, w: Written): Promise<PushResult> => {
    const outcomes = (await finishedPush(server, push)).map((o) => ({ deviceId: o.deviceId, outcome: o.outcome, ...(o.reason ? { reason: o.reason } : {}) }));
    // Read after the push, so it cannot delay it; `wait=0` answers from the store when the read models are behind.
    const device = await server.get(`/v1/devices/${w.deviceId}`, { prefer: 'wait=0' });
    return { owner: device.status === 200 ? device.body.userId : null, targeted: push.targeted, skipped: push.skipped, outcomes, received: receivedFor(w.token, push.messageId).length };
  };

  const reached = (w: Written): PushResult => ({ owner: w.userId, targeted: 1, skipped: {}, outcomes: [{ deviceId: w.deviceId, outcome: 'sent' }], received: 1 });

  const registerThenPush = async (route: Route) => {
    const written = await route.register();
    const push = await (route.push ?? pushToUser)(written.userId);
    return { written, push };
  };

  it.each(routes)('$name, then a push to that user, reaches the device', async (route) => {
    const { written, push } = await registerThenPush(route);
    expect(await resultOf(push, written)).toEqual(reached(written));
  });

  it('the same, while the lifecycle relay (and so the identity service\'s membership reactor behind it) is held back', async () => {
    // A follower that lags is allowed; a push that depends on it is not. Held, its lag outlasts every push below.
    await stack.procs.get('relay')!.stop();
    const misses: { route: string; result: PushResult }[] = [];
    try {
      for (const route of routes) {
        const { written, push } = await registerThenPush(route);
        const result = await resultOf(push, written);
        if (!isDeepStrictEqual(result, reached(written))) misses.push({ route: route.name, result });
      }
    } finally {
      await stack.restart('relay');
    }
    expect(misses).toEqual([]);
  });

  describe('writes that take a device away: a push right after them does not reach it', () => {
    /** A device registered for a user and linked to them, shown reachable by a push to the user. */
    const reachableDevice = async (): Promise<Written> => {
      const w = await registerNative('away');
      // Set-up, not the property under test: the link may trail the registration.
      await waitFor(async () => ((await server.get(`/v1/users/${w.userId}`)).body?.deviceIds as string[] | undefined)?.includes(w.deviceId), { what: `${w.deviceId} to be linked to its user`, timeoutMs: 30000 });
      const control = await pushToUser(w.userId);
      expect(await resultOf(control, w)).toEqual(reached(w));
      return w;
    };

    it.each([
      { name: 'POST /v1/logout', allowedSkips: ['anonymous'], take: (w: Written) => write.post('/v1/logout', { deviceId: w.deviceId }) },
      { name: 'DELETE /v1/users/{id} (erase)', allowedSkips: ['erased'], take: (w: Written) => server.delete(`/v1/users/${w.userId}`) },
      { name: 'PATCH /v1/users/{id} {unsubscribed: true}, non-transactional push', allowedSkips: ['unsubscribed'], take: (w: Written) => server.patch(`/v1/users/${w.userId}`, { unsubscribed: true }) },
    ])('$name', async ({ allowedSkips, take }) => {
      const w = await reachableDevice();
      const requestsBefore = sim.requestsFor(w.token).length;
      expect(requestsBefore).toBe(1);

      const taken = await take(w);
      expect(taken.status).toBe(200);
      const push = await pushToUser(w.userId);

      const result = await resultOf(push, w);
      expect(result.targeted).toBe(0);
      expect(Object.keys(result.skipped).filter((reason) => !allowedSkips.includes(reason))).toEqual([]);
      expect(result.outcomes.filter((o) => o.outcome !== 'skipped' || !allowedSkips.includes(o.reason ?? ''))).toEqual([]);
      expect(result.received).toBe(0);
      // Counted, not printed: the records hold the whole token.
      expect(sim.requestsFor(w.token).length).toBe(requestsBefore);
    });
  });

  it(`${CONCURRENT_PAIRS} concurrent register-then-push pairs, ${ROUNDS} rounds: every push targets its device and reaches it`, async () => {
    const misses: { round: number; deviceId: string; result: PushResult }[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const pairs = await Promise.all(Array.from({ length: CONCURRENT_PAIRS }, () => registerThenPush(routes[0])));
      for (const { written, push } of pairs) {
        const result = await resultOf(push, written);
        if (!isDeepStrictEqual(result, reached(written))) misses.push({ round, deviceId: written.deviceId, result });
      }
    }
    expect(misses).toEqual([]);
  });
});
