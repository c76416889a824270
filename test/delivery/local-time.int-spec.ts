import { FcmSimulator } from '@pushledger/fcm';
import { instantOfWallClock } from '@pushledger/messages';
import { api, repoRoot, startStack, Stack, waitFor } from '@pushledger/testing';
import * as path from 'path';

describe('a broadcast at a local time: one wave per time zone offset', () => {
  let sim: FcmSimulator;
  let stack: Stack;

  beforeAll(async () => {
    sim = await FcmSimulator.start({ certDir: path.join(repoRoot, '.data/fcm-sim-test') });
    stack = await startStack(['gateway', 'registration', 'identity', 'relay', 'projector', 'campaign', 'delivery'], { FCM_ENDPOINT: sim.url, FCM_CA_FILE: sim.caFile });
  });
  afterAll(async () => {
    if (process.env.DEBUG_STACK) console.log(stack?.logs());
    await stack?.stop();
    await sim?.stop();
  });

  it('sends now where the wall clock has reached the time, and keeps the later zones scheduled', async () => {
    const app = await stack.createApp({});
    const write = api(stack.url, app.writeKey);
    const server = api(stack.url, app.serverKey);
    const zones = { tokyo: 'Asia/Tokyo', kolkata: 'Asia/Kolkata', unknown: null, newyork: 'America/New_York' } as const;
    const tokens: Record<string, string> = {};
    for (const [name, timezone] of Object.entries(zones)) {
      tokens[name] = `lt-${name}-${Date.now()}-${'x'.repeat(24)}`;
      const res = await write.post('/v1/devices', { deviceId: `lt-${name}`, token: tokens[name], provider: 'fcm', platform: 'android', userId: `u-${name}`, ...(timezone ? { timezone } : {}) });
      expect(res.status).toBe(201);
    }
    await waitFor(async () => (await server.post('/v1/segments/preview', { rules: { eligibleDevice: true } })).body?.count === 4, { what: 'the read models to hold the four users', timeoutMs: 60_000 });

    // "Now" on the wall clock, to the minute: Tokyo (+9) and Kolkata (+5:30) are past it, New York (-5/-4) is not.
    const at = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    const created = await server.post('/v1/campaigns', { name: 'morning', kind: 'broadcast', content: { title: 'Good morning', body: 'b' }, schedule: { at: at.toISOString(), localTime: true } });
    expect(created.status).toBe(201);
    const sent = await server.post(`/v1/campaigns/${created.body.id}/send`, {});
    expect(sent.status).toBe(202);
    expect(Date.parse(sent.body.scheduledFor)).toBeLessThan(at.getTime() - 13 * 3600_000);

    await waitFor(async () => ['tokyo', 'kolkata', 'unknown'].every((n) => sim.requestsFor(tokens[n]).length === 1), { what: 'the due waves to send', timeoutMs: 90_000 });
    const campaign = await waitFor(async () => {
      const res = await server.get(`/v1/campaigns/${created.body.id}`);
      const sends = res.body.sends as { wave: string; status: string; targeted: number }[];
      return sends.filter((s) => Date.parse(s.wave) <= at.getTime()).every((s) => s.status === 'sent') ? res.body : undefined;
    }, { what: 'every past wave to finish' });

    const nyWave = instantOfWallClock(at, 'America/New_York').toISOString();
    const byWave = new Map((campaign.sends as { wave: string; status: string; targeted: number }[]).map((s) => [s.wave, s]));
    expect(byWave.get(nyWave)).toMatchObject({ status: 'scheduled', targeted: 0 });
    expect(byWave.get(instantOfWallClock(at, 'Asia/Tokyo').toISOString())).toMatchObject({ status: 'sent', targeted: 1 });
    expect(byWave.get(at.toISOString())).toMatchObject({ status: 'sent', targeted: 1 });
    expect(campaign.stats.targeted).toBe(3);
    expect(sim.requestsFor(tokens.newyork)).toHaveLength(0);
  }, 240_000);
});
