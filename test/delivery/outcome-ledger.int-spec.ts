import { Pool } from 'pg';
import { FcmSimulator } from '@pushledger/fcm';
import { api, repoRoot, startStack, Stack, TestApp, waitFor } from '@pushledger/testing';
import * as path from 'path';
import { DeliveryLedger } from '../../services/delivery/src/infrastructure/delivery-ledger';

type Api = ReturnType<typeof api>;
interface Row {
  deviceId: string;
  outcome: string;
  reason?: string;
}

/**
 * Outcomes per (message, device) in delivery's PostgreSQL ledger, with per-message and per-campaign counters
 * moved in the same transaction; the API pages the outcomes and reads the counters, never counts rows.
 */
describe('delivery ledger: outcomes, counters kept with them, paging, tenancy', () => {
  let sim: FcmSimulator;
  let stack: Stack;
  let pg: Pool;
  let app: TestApp;
  let write: Api;
  let server: Api;
  let seq = 0;

  beforeAll(async () => {
    sim = await FcmSimulator.start({ certDir: path.join(repoRoot, '.data/fcm-sim-test') });
    stack = await startStack(['gateway', 'registration', 'identity', 'campaign', 'delivery'], { FCM_ENDPOINT: sim.url, FCM_CA_FILE: sim.caFile });
    pg = new Pool({ connectionString: stack.env.POSTGRES_URL, max: 4 });
    app = await stack.createApp();
    write = api(stack.url, app.writeKey);
    server = api(stack.url, app.serverKey);
  });
  afterAll(async () => {
    await pg?.end();
    await stack?.stop();
    await sim?.stop();
  });

  async function register(userId: string, prefix: string) {
    const id = `led-${++seq}`;
    const res = await write.post('/v1/devices', { deviceId: id, token: `${prefix}:${id}-${Date.now()}-${'t'.repeat(32)}`, provider: 'fcm', platform: 'android', userId });
    expect(res.status).toBe(201);
    return id;
  }

  /** Every outcome, following `Link: rel="next"` page by page. */
  async function allPages(messageId: string, limit: number): Promise<{ rows: Row[]; pages: number }> {
    const rows: Row[] = [];
    let next: string | null = `/v1/messages/${messageId}?limit=${limit}`;
    let pages = 0;
    while (next) {
      const res = await server.get(next);
      expect(res.status).toBe(200);
      expect(Array.isArray(res.body)).toBe(true);
      expect(res.body.length).toBeLessThanOrEqual(limit);
      rows.push(...res.body);
      pages++;
      next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1] ?? null;
    }
    return { rows, pages };
  }

  async function ledgerCounts(messageId: string) {
    const rows = (await pg.query<{ outcome: string; n: number }>('SELECT outcome, count(*)::int AS n FROM delivery.message_outcomes WHERE app_id = $1 AND message_id = $2 GROUP BY outcome', [app.id, messageId])).rows;
    return Object.fromEntries(rows.map((r) => [r.outcome, r.n]));
  }

  async function counters(messageId: string) {
    const { rows } = await pg.query('SELECT sent::int, bounced::int, invalidated::int, failed::int, skipped::int, skipped_by_reason FROM delivery.message_counters WHERE app_id = $1 AND message_id = $2', [app.id, messageId]);
    return rows[0];
  }

  it('an outcome recorded twice (or by two writers at once) counts once; a change moves one count; skipped never replaces a result', async () => {
    const ledger = new DeliveryLedger(pg);
    await ledger.init();
    const appId = app.id;
    const messageId = `m-twice-${Date.now()}`;
    const outcomes = [
      { deviceId: 'a', outcome: 'sent' as const, reason: null, attempts: 1 },
      { deviceId: 'b', outcome: 'invalidated' as const, reason: 'UNREGISTERED', attempts: 1 },
      { deviceId: 'c', outcome: 'skipped' as const, reason: 'stale', attempts: 0 },
    ];
    // Writers racing on rows that do not exist yet, then repeats one after another.
    await Promise.all([1, 2, 3, 4].map(() => ledger.record(appId, messageId, 'cmp-twice', outcomes)));
    await ledger.record(appId, messageId, 'cmp-twice', outcomes);
    const once = { sent: 1, bounced: 0, invalidated: 1, failed: 0, skipped: 1, skippedByReason: { stale: 1 }, delivered: 0, opened: 0 };
    expect(await ledger.messageCounters(appId, messageId)).toEqual({ campaignId: 'cmp-twice', ...once });
    expect(await ledger.campaignCounters(appId, 'cmp-twice')).toEqual(once);
    // A late skipped does not replace a send; a real result replaces a skipped one and moves its count.
    await ledger.record(appId, messageId, 'cmp-twice', [{ deviceId: 'a', outcome: 'skipped', reason: 'stale', attempts: 0 }, { deviceId: 'c', outcome: 'sent', reason: null, attempts: 1 }]);
    const moved = { sent: 2, bounced: 0, invalidated: 1, failed: 0, skipped: 0, skippedByReason: {}, delivered: 0, opened: 0 };
    expect(await ledger.messageCounters(appId, messageId)).toEqual({ campaignId: 'cmp-twice', ...moved });
    expect(await ledger.campaignCounters(appId, 'cmp-twice')).toEqual(moved);
    // Receipts: once per pair and kind; none for a pair the ledger does not hold.
    expect(await ledger.applyReceipt(appId, messageId, 'a', 'delivered', new Date())).toBe(true);
    expect(await ledger.applyReceipt(appId, messageId, 'a', 'delivered', new Date())).toBe(true);
    expect(await ledger.applyReceipt(appId, messageId, 'nobody', 'opened', new Date())).toBe(false);
    expect(await ledger.messageCounters(appId, messageId)).toMatchObject({ delivered: 1, opened: 0 });
    expect(await ledger.campaignCounters(appId, 'cmp-twice')).toMatchObject({ delivered: 1, opened: 0 });
    const rows = await pg.query('SELECT count(*)::int AS n FROM delivery.message_outcomes WHERE app_id = $1 AND message_id = $2', [appId, messageId]);
    expect(rows.rows[0].n).toBe(3);
  });

  it('a pair sent by one holder is not handed to another while its lease runs; its own holder gets it, and anyone once the lease has run out or the pair is done', async () => {
    const ledger = new DeliveryLedger(pg);
    await ledger.init();
    const messageId = `m-lease-${Date.now()}`;
    const ids = ['p1', 'p2', 'p3'];
    expect((await ledger.claim(app.id, messageId, ids, 'A')).pending).toEqual(new Map([['p1', 0], ['p2', 0], ['p3', 0]]));
    await ledger.countSends(messageId, ['p1', 'p2'], 'A', 60_000);
    const other = await ledger.claim(app.id, messageId, ids, 'B');
    expect(other.pending).toEqual(new Map([['p3', 0]]));
    expect(other.heldForMs).toBeGreaterThan(50_000);
    expect(other.heldForMs).toBeLessThanOrEqual(60_000);
    expect(await ledger.claim(app.id, messageId, ids, 'A')).toEqual({ pending: new Map([['p1', 1], ['p2', 1], ['p3', 0]]), heldForMs: 0 });
    await ledger.record(app.id, messageId, null, [{ deviceId: 'p1', outcome: 'sent', reason: null, attempts: 1 }]);
    await ledger.countSends(messageId, ['p2'], 'A', 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(await ledger.claim(app.id, messageId, ids, 'B')).toEqual({ pending: new Map([['p2', 2], ['p3', 0]]), heldForMs: 0 });
  });

  it('each device remembers the last effect recorded for it and the hash of its token; a cancelled message is known as cancelled to its app only', async () => {
    const ledger = new DeliveryLedger(pg);
    await ledger.init();
    const other = await stack.createApp();
    await ledger.record(app.id, 'm-eff-1', null, [
      { deviceId: 'e1', outcome: 'sent', reason: null, attempts: 1, tokenHash: 'h1' },
      { deviceId: 'e2', outcome: 'bounced', reason: 'SENDER_ID_MISMATCH', attempts: 1, tokenHash: 'h2' },
      { deviceId: 'e3', outcome: 'failed', reason: 'internal', attempts: 3 },
    ]);
    await ledger.record(app.id, 'm-eff-2', null, [{ deviceId: 'e2', outcome: 'sent', reason: null, attempts: 1, tokenHash: 'h2' }]);
    expect(await ledger.lastEffects(app.id, ['e1', 'e2', 'e3'])).toEqual(new Map([['e1', { tokenHash: 'h1', outcome: 'sent' }], ['e2', { tokenHash: 'h2', outcome: 'sent' }]]));
    expect(await ledger.lastEffects(other.id, ['e1', 'e2'])).toEqual(new Map());
    expect(await ledger.isCancelled(app.id, 'm-eff-2')).toBe(false);
    await ledger.cancel(app.id, 'm-eff-2');
    await ledger.cancel(app.id, 'm-eff-2');
    expect(await ledger.isCancelled(app.id, 'm-eff-2')).toBe(true);
    expect(await ledger.isCancelled(other.id, 'm-eff-2')).toBe(false);
  });

  it('daily counters: an outcome counts on the day it was recorded, a changed one leaves its old day, a receipt counts on its day; GET /v1/stats/pushes/daily reads them per app', async () => {
    const other = await stack.createApp();
    const ledger = new DeliveryLedger(pg);
    await ledger.init();
    const day1 = new Date('2026-03-01T10:00:00Z');
    const outcomes = [
      { deviceId: 'a', outcome: 'sent' as const, reason: null, attempts: 1 },
      { deviceId: 'b', outcome: 'failed' as const, reason: 'invalid_payload', attempts: 1 },
      { deviceId: 'c', outcome: 'skipped' as const, reason: 'stale', attempts: 0 },
    ];
    await Promise.all([1, 2, 3].map(() => ledger.record(other.id, 'm-daily', null, outcomes, day1)));
    await ledger.record(other.id, 'm-daily', null, [{ deviceId: 'b', outcome: 'sent', reason: null, attempts: 2 }], new Date('2026-03-02T23:59:59Z'));
    await ledger.applyReceipt(other.id, 'm-daily', 'a', 'opened', new Date('2026-03-03T00:30:00Z'));
    await ledger.applyReceipt(other.id, 'm-daily', 'a', 'opened', new Date('2026-03-03T00:31:00Z'));
    const zero = { sent: 0, bounced: 0, invalidated: 0, failed: 0, skipped: 0, delivered: 0, opened: 0 };
    const otherServer = api(stack.url, other.serverKey);
    const res = await otherServer.get('/v1/stats/pushes/daily?from=2026-03-01&to=2026-03-04');
    expect(res.status).toBe(200);
    expect(res.body.days).toEqual([
      { date: '2026-03-01', ...zero, sent: 1, skipped: 1 },
      { date: '2026-03-02', ...zero, sent: 1 },
      { date: '2026-03-03', ...zero, opened: 1 },
      { date: '2026-03-04', ...zero },
    ]);
    expect(res.body.totals).toEqual({ ...zero, sent: 2, skipped: 1, opened: 1 });
    // Another app's days read as empty.
    expect((await server.get('/v1/stats/pushes/daily?from=2026-03-01&to=2026-03-01')).body.days).toEqual([{ date: '2026-03-01', ...zero }]);
    expect((await otherServer.get('/v1/stats/pushes/daily?from=2026-03-02&to=2026-03-01')).status).toBe(400);

    // Through the API: a push sent today counts today.
    const id = `led-${++seq}`;
    expect((await api(stack.url, other.writeKey).post('/v1/devices', { deviceId: id, token: `ok:${id}-${Date.now()}-${'t'.repeat(32)}`, provider: 'fcm', platform: 'android' })).status).toBe(201);
    const push = await otherServer.post('/v1/push', { to: { deviceId: id }, notification: { title: 'Hi', body: 'today' } });
    expect(push.status).toBe(202);
    const today = new Date().toISOString().slice(0, 10);
    await waitFor(async () => (await otherServer.get(`/v1/stats/pushes/daily?from=${today}&to=${today}`)).body.days?.[0]?.sent === 1, { what: 'today\'s push counted', timeoutMs: 60_000 });
  });

  it('outcome rows keep no user id', async () => {
    const { rows } = await pg.query("SELECT column_name FROM information_schema.columns WHERE table_schema = 'delivery' AND table_name = 'message_outcomes'");
    expect(rows.map((r) => r.column_name)).not.toEqual(expect.arrayContaining(['user_id']));
    expect(rows.map((r) => r.column_name)).toEqual(expect.arrayContaining(['device_id', 'outcome']));
  });

  it('a campaign send to 12 devices with mixed answers: counters equal the rows, pages of 5 give each outcome once, campaign stats equal the outcomes', async () => {
    const user = `mixed-${Date.now()}`;
    const expected: Record<string, string> = {};
    for (const [prefix, outcome, n] of [['ok', 'sent', 5], ['unregistered', 'invalidated', 4], ['mismatch', 'bounced', 3]] as const) {
      for (let i = 0; i < n; i++) expected[await register(user, prefix)] = outcome;
    }
    const campaign = await server.post('/v1/campaigns', { name: 'receipt', kind: 'transactional', content: { title: 'Your code', body: '1234' } });
    expect(campaign.status).toBe(201);
    const send = await server.post(`/v1/campaigns/${campaign.body.id}/send`, { to: { userId: user } });
    expect(send.status).toBe(202);
    expect(send.body.targeted).toBe(12);
    const messageId: string = send.body.messageId;

    const stats = await waitFor(async () => {
      const s = await server.get(`/v1/messages/${messageId}/stats`);
      return s.status === 200 && s.body.sent + s.body.bounced + s.body.invalidated === 12 ? s.body : undefined;
    }, { what: '12 outcomes counted', timeoutMs: 60_000 });
    expect(stats).toMatchObject({ messageId, campaignId: campaign.body.id, targeted: 12, sent: 5, invalidated: 4, bounced: 3, failed: 0 });
    expect(await ledgerCounts(messageId)).toEqual({ sent: 5, invalidated: 4, bounced: 3 });
    expect(await counters(messageId)).toMatchObject({ sent: 5, invalidated: 4, bounced: 3, failed: 0, skipped: 0 });

    const { rows, pages } = await allPages(messageId, 5);
    expect(pages).toBe(3);
    expect(rows.map((r) => r.deviceId).sort()).toEqual(Object.keys(expected).sort());
    expect(new Set(rows.map((r) => r.deviceId)).size).toBe(12);
    for (const r of rows) expect(r.outcome).toBe(expected[r.deviceId]);
    // Without a limit the whole message is one page, as before paging.
    const whole = await server.get(`/v1/messages/${messageId}`);
    expect(whole.body).toHaveLength(12);
    expect(whole.headers.get('link')).toBeNull();

    // A second message of the campaign: campaign counters add both, and equal the outcome rows.
    const again = await server.post(`/v1/campaigns/${campaign.body.id}/send`, { to: { userId: user } });
    expect(again.status).toBe(202);
    const c = await waitFor(async () => {
      const got = await server.get(`/v1/campaigns/${campaign.body.id}`);
      const s = got.body.stats;
      return s.messages === 2 && s.sent + s.bounced + s.invalidated + s.failed === 12 + again.body.targeted ? s : undefined;
    }, { what: 'the campaign stats of both sends', timeoutMs: 60_000 });
    const byOutcome = (await pg.query<{ outcome: string; n: number }>('SELECT outcome, count(*)::int AS n FROM delivery.message_outcomes WHERE app_id = $1 AND campaign_id = $2 GROUP BY outcome', [app.id, campaign.body.id])).rows;
    const fromRows = Object.fromEntries(byOutcome.map((r) => [r.outcome, r.n]));
    expect({ sent: c.sent, bounced: c.bounced, invalidated: c.invalidated, failed: c.failed }).toEqual({ sent: fromRows.sent ?? 0, bounced: fromRows.bounced ?? 0, invalidated: fromRows.invalidated ?? 0, failed: fromRows.failed ?? 0 });
    expect(c.targeted).toBe(12 + again.body.targeted);
  });

  it('skipped devices are outcome rows counted per reason', async () => {
    const user = `unsub-${Date.now()}`;
    const ids = [await register(user, 'ok'), await register(user, 'ok')];
    expect((await server.patch(`/v1/users/${user}`, { unsubscribed: true })).status).toBe(200);
    const push = await server.post('/v1/push', { to: { userId: user }, notification: { title: 'Promo', body: 'x' } });
    expect(push.status).toBe(202);
    expect(push.body).toMatchObject({ targeted: 0, skipped: { unsubscribed: 2 } });
    const rows = await waitFor(async () => {
      const res = await server.get(`/v1/messages/${push.body.messageId}`);
      return res.status === 200 && res.body.length === 2 ? (res.body as Row[]) : undefined;
    }, { what: 'two skipped outcomes' });
    expect(rows).toEqual(ids.sort().map((deviceId) => ({ deviceId, outcome: 'skipped', reason: 'unsubscribed' })));
    expect(await counters(push.body.messageId)).toMatchObject({ sent: 0, skipped: 2, skipped_by_reason: { unsubscribed: 2 } });
  });

  it("another app's message id answers 404 exactly like a missing one; bad paging input is a 400 naming the field", async () => {
    const user = `ten-${Date.now()}`;
    const device = await register(user, 'ok');
    const push = await server.post('/v1/push', { to: { deviceId: device }, notification: { title: 'Hi', body: 'x' }, transactional: true });
    expect(push.status).toBe(202);
    await waitFor(async () => (await server.get(`/v1/messages/${push.body.messageId}`)).body?.length === 1, { what: 'the outcome' });
    const other = await stack.createApp();
    const otherServer = api(stack.url, other.serverKey);
    const otherWrite = api(stack.url, other.writeKey);
    for (const suffix of ['', '/stats', '?limit=1']) {
      const theirs = await otherServer.get(`/v1/messages/${push.body.messageId}${suffix}`);
      const missing = await otherServer.get(`/v1/messages/00000000-0000-4000-8000-000000000000${suffix}`);
      expect(theirs.status).toBe(404);
      expect(theirs.body).toEqual(missing.body);
    }
    const receipt = await otherWrite.post(`/v1/messages/${push.body.messageId}/receipts`, { deviceId: device, kind: 'opened' });
    expect(receipt.status).toBe(404);
    expect((await write.post(`/v1/messages/${push.body.messageId}/receipts`, { deviceId: device, kind: 'opened' })).status).toBe(202);
    await waitFor(async () => (await server.get(`/v1/messages/${push.body.messageId}/stats`)).body.opened === 1, { what: 'the receipt counted' });

    for (const [query, field] of [['limit=0', 'limit'], ['limit=1001', 'limit'], ['limit=x', 'limit'], ['after=%21%21', 'after']] as const) {
      const bad = await server.get(`/v1/messages/${push.body.messageId}?${query}`);
      expect(bad.status).toBe(400);
      expect(bad.body.error.details).toEqual([expect.objectContaining({ field })]);
    }
  });
});
