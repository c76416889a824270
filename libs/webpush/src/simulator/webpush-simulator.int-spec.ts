import { Agent } from 'https';
import { readFileSync } from 'fs';
import { rootCertificates } from 'tls';
import { sendNotification, WebPushError } from 'web-push';
import { generateVapidKeys, WebPushSimulator } from './webpush-simulator';

describe('Web Push simulator, reached through the web-push library', () => {
  let sim: WebPushSimulator;
  let agent: Agent;
  const vapid = generateVapidKeys('mailto:ops@example.com');
  beforeAll(async () => {
    sim = await WebPushSimulator.start();
    agent = new Agent({ ca: [...rootCertificates, readFileSync(sim.caFile, 'utf8')] });
  });
  afterAll(async () => {
    agent.destroy();
    await sim.stop();
  });
  const send = (sub: { endpoint: string; keys: { p256dh: string; auth: string } }, keys = vapid, options: Record<string, unknown> = {}) =>
    sendNotification(sub, JSON.stringify({ notification: { title: 'Hi', body: 'There' }, data: { k: 'v' } }), { vapidDetails: keys, contentEncoding: 'aes128gcm', agent, TTL: 60, urgency: 'high', topic: 'news', ...options });
  const statusOf = async (p: Promise<unknown>) => p.then(() => 201, (e: unknown) => (e instanceof WebPushError ? e.statusCode : -1));

  it('decrypts the aes128gcm payload with the subscription keys and checks the VAPID JWT', async () => {
    const sub = sim.subscribe({ applicationServerKey: vapid.publicKey });
    expect((await send(sub)).statusCode).toBe(201);
    const [r] = sim.requestsFor(sub.endpoint);
    expect(r).toMatchObject({ status: 201, payload: { notification: { title: 'Hi', body: 'There' }, data: { k: 'v' } }, headers: { ttl: '60', urgency: 'high', topic: 'news', 'content-encoding': 'aes128gcm' } });
    expect(r.vapid).toMatchObject({ header: { alg: 'ES256' }, claims: { aud: new URL(sim.url).origin, sub: 'mailto:ops@example.com', exp: expect.any(Number) }, k: vapid.publicKey });
  });

  it('answers 403 to another key than the subscription was made with, 410 after unsubscribing, 404 for an unknown subscription, scripted statuses', async () => {
    const sub = sim.subscribe({ applicationServerKey: vapid.publicKey });
    expect(await statusOf(send(sub, generateVapidKeys()))).toBe(403);
    sim.script(sub.endpoint, [429, 500]);
    expect(await statusOf(send(sub))).toBe(429);
    expect(await statusOf(send(sub))).toBe(500);
    expect(await statusOf(send(sub))).toBe(201);
    sim.unsubscribe(sub.endpoint);
    expect(await statusOf(send(sub))).toBe(410);
    expect(await statusOf(send({ ...sub, endpoint: `${sim.url}/push/unknown` }))).toBe(404);
    expect(sim.requestsFor(sub.endpoint).map((r) => r.status)).toEqual([403, 429, 500, 201, 410]);
  });
});
