import { Pool } from 'pg';
import type { DeliveryOutcomeV1 } from '@pushledger/contracts';
import { JsonLogger } from '@pushledger/observability';
import { sealCredential } from '@pushledger/platform';
import { PostgresKeyStore, seal, SealedFacts } from '@pushledger/privacy';
import { createTestDatabase, testConfig, waitFor, WebhookReceiver } from '@pushledger/testing';
import { WebhookStore } from '../infrastructure/webhook-store';
import { WEBHOOK_IN_FLIGHT_PER_RECEIVER } from './webhook-policy';
import { Webhooks } from './webhooks';

const SECRET = 'whsec_test-secret';

function outcome(appId: string, messageId: string, deviceId: string, outcomeKind: DeliveryOutcomeV1['outcome'] = 'sent'): DeliveryOutcomeV1 {
  return { appId, messageId, campaignId: null, deviceId, outcome: outcomeKind, reason: null, attempts: 1, at: new Date().toISOString() };
}

describe('webhook deliveries from PostgreSQL to a local receiver, by two delivery replicas', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: Pool;
  let store: WebhookStore;
  let receiver: WebhookReceiver;
  const config = testConfig({ WEBHOOK_RETRY_BASE_MS: '20', WEBHOOK_TIMEOUT_MS: '500' });
  const logger = new JsonLogger('webhooks-test', 'silent');
  let replicas: Webhooks[];
  let keys: PostgresKeyStore;
  let n = 0;

  async function subscribe(appId: string, url: string, events = ['PushOutcome'], via = replicas[0]) {
    return via.create({ type: 'CreateWebhook', commandId: `c${++n}`, appId, issuedAt: new Date().toISOString(), webhookId: `wh_${n}`, url, events, secret: sealCredential(SECRET, 'webhook.secret', appId, config.secretKey) });
  }

  beforeAll(async () => {
    db = await createTestDatabase('webhooks');
    pool = new Pool({ connectionString: db.url, max: 8 });
    store = new WebhookStore(pool);
    receiver = await WebhookReceiver.start();
    keys = await PostgresKeyStore.connect({ connectionString: db.url, poolSize: 2 });
    replicas = [new Webhooks(store, logger, config, new SealedFacts(keys)), new Webhooks(store, logger, config, new SealedFacts(keys))];
    for (const r of replicas) r.onApplicationBootstrap();
  });
  afterAll(async () => {
    for (const r of replicas ?? []) await r.onApplicationShutdown();
    await receiver?.stop();
    await keys?.close();
    await pool?.end();
    await db?.drop();
  });

  it('opens lifecycle facts as the relay publishes them (sealed), masks their tokens, and sends an erased one as erased', async () => {
    const appId = 'app_sealed';
    await subscribe(appId, receiver.url('/facts'), ['TokenRegistered', 'TraitsUpdated']);
    const token = `tok-${Date.now()}-${'s'.repeat(40)}`;
    const [device, user] = await keys.keysFor([
      { appId, kind: 'device', subject: 'dev-s' },
      { appId, kind: 'user', subject: 'pseudo-s' },
    ]);
    const fact = (eventId: string, type: string, stream: string, data: Record<string, unknown>) => ({ eventId, type, stream, data, metadata: { appId, occurredAt: new Date().toISOString() } });
    const registered = fact('e-1', 'TokenRegistered', `device-${appId}-dev-s`, { appId, deviceId: 'dev-s', token: seal(token, 'token', device.kid, device.key!), provider: 'fcm' });
    const traits = (id: string) => fact(id, 'TraitsUpdated', `user-${appId}-~${'a'.repeat(32)}`, { appId, pii: seal({ userId: 'sally', traits: { plan: 'gold' } }, 'pii', user.kid, user.key!) });
    await replicas[0].onLifecycle([registered, traits('e-2')]);
    await waitFor(async () => receiver.at('/facts').length === 2, { what: 'both facts' });
    const got = new Map(receiver.at('/facts').map((r) => [r.body.id, r.body]));
    expect(got.get('e-1')!.data).toMatchObject({ deviceId: 'dev-s', token: expect.stringMatching(/^tok-\d{2}…[0-9a-f]{10}$/) });
    expect(got.get('e-2')!.data).toMatchObject({ pii: { userId: 'sally', traits: { plan: 'gold' } } });
    expect(receiver.requests.some((r) => r.raw.includes(token) || r.raw.includes('$enc'))).toBe(false);

    await keys.destroy(appId, 'pseudo-s', ['dev-s']);
    await replicas[1].onLifecycle([traits('e-3')]);
    await waitFor(async () => receiver.at('/facts').length === 3, { what: 'the fact sealed for an erased user' });
    expect(receiver.at('/facts').find((r) => r.body.id === 'e-3')!.body.data).toEqual({ appId, pii: { userId: null, erased: true } });
  });

  it('opens only the facts of types a webhook of their app takes: the rest cost no key lookup and are owed to nobody', async () => {
    const appId = 'app_types';
    await subscribe(appId, receiver.url('/typed'), ['TokenInvalidated']);
    const opened: string[] = [];
    // Counts what reaches the key store; the facts here are plain, so opening them changes nothing.
    const counting = new (class extends SealedFacts {
      override async open<E extends { data: unknown }>(events: E[], fallbackUserId: string | null = null): Promise<E[]> {
        opened.push(...events.map((e) => (e as unknown as { type: string }).type));
        return super.open(events, fallbackUserId);
      }
    })(keys);
    const feed = new Webhooks(store, logger, config, counting);
    const fact = (eventId: string, type: string, app = appId) => ({ eventId, type, stream: `device-${app}-dev-t`, data: { appId: app, deviceId: 'dev-t' }, metadata: { appId: app, occurredAt: new Date().toISOString() } });
    await feed.onLifecycle([fact('t-1', 'TokenRegistered'), fact('t-2', 'PushSent'), fact('t-3', 'TokenInvalidated'), fact('t-4', 'TokenInvalidated', 'app_without_webhooks')]);
    expect(opened).toEqual(['TokenInvalidated']);
    await waitFor(async () => receiver.at('/typed').length === 1, { what: 'the invalidation' });
    expect(receiver.at('/typed').map((r) => r.body.id)).toEqual(['t-3']);
    await feed.onLifecycle([fact('t-5', 'TokenRegistered')]);
    expect(opened).toEqual(['TokenInvalidated']);
  });

  it('lists an app\'s live webhooks a page at a time, oldest first, each once (deleted ones left out)', async () => {
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await subscribe('app_pages', receiver.url(`/pages-${i}`))).id);
    await store.delete('app_pages', made[2]);
    const live = made.filter((_, i) => i !== 2);
    const seen: string[] = [];
    let after: [string, string] | null = null;
    let pages = 0;
    do {
      const page = await replicas[1].list('app_pages', { limit: 3, after });
      seen.push(...page.items.map((w) => w.id));
      after = page.next;
      pages++;
    } while (after);
    expect({ seen, pages }).toEqual({ seen: live, pages: 2 });
    expect((await replicas[0].list('app_pages')).items.map((w) => w.id)).toEqual(live);
    expect((await replicas[0].list('app_pages', { limit: 4, after: null })).next).toBeNull();
  });

  it('each owed delivery reaches the receiver once, signed, in order per device, though both replicas saw every outcome', async () => {
    const hook = await subscribe('app_once', receiver.url('/once'));
    const outcomes = Array.from({ length: 50 }, (_, i) => outcome('app_once', `msg-${Math.floor(i / 10)}`, `dev-${i % 10}`));
    await replicas[0].onOutcomes(outcomes);
    await replicas[1].onOutcomes(outcomes);
    await waitFor(async () => new Set(receiver.at('/once').map((r) => r.body.id)).size === 50, { what: '50 deliveries' });
    const got = receiver.at('/once');
    expect(got).toHaveLength(50);
    expect(got.every((r) => WebhookReceiver.verify(r, SECRET))).toBe(true);
    expect(got.some((r) => WebhookReceiver.verify(r, 'whsec_another'))).toBe(false);
    for (let d = 0; d < 10; d++) expect(got.filter((r) => r.body.data.deviceId === `dev-${d}`).map((r) => r.body.data.messageId)).toEqual(['msg-0', 'msg-1', 'msg-2', 'msg-3', 'msg-4']);
    expect(got[0].body).toMatchObject({ type: 'PushOutcome', appId: 'app_once', data: { outcome: 'sent' } });
    expect(hook).toMatchObject({ id: expect.stringMatching(/^wh_/), events: ['PushOutcome'], disabledAt: null });
  });

  it('a receiver answering 500 three times gets each event on the fourth try, and a device\'s next event only after its previous one was taken', async () => {
    // Created through the replica that takes the outcomes: another replica's list of subscribers may be up to a second old.
    await subscribe('app_flaky', receiver.url('/flaky', (attempt) => (attempt <= 3 ? 500 : 200)), ['PushOutcome'], replicas[1]);
    await replicas[1].onOutcomes([outcome('app_flaky', 'm1', 'dev-a'), outcome('app_flaky', 'm2', 'dev-a'), outcome('app_flaky', 'm1', 'dev-b')]);
    await waitFor(async () => receiver.at('/flaky').filter((r) => r.body.data.messageId === 'm2').length === 4, { what: 'the fourth try of the second event' });
    const got = receiver.at('/flaky');
    const tries = new Map<string, number>();
    for (const r of got) tries.set(r.body.id, (tries.get(r.body.id) ?? 0) + 1);
    expect([...tries.values()]).toEqual([4, 4, 4]);
    const ofA = got.filter((r) => r.body.data.deviceId === 'dev-a').map((r) => r.body.data.messageId);
    expect(ofA).toEqual(['m1', 'm1', 'm1', 'm1', 'm2', 'm2', 'm2', 'm2']);
  });

  it('a receiver that never answers holds up only itself: another webhook of the app gets everything meanwhile', async () => {
    await subscribe('app_slow', receiver.url('/hangs', () => 'hang'));
    await subscribe('app_slow', receiver.url('/fast'));
    await replicas[0].onOutcomes(Array.from({ length: 40 }, (_, i) => outcome('app_slow', 'm', `dev-${i}`)));
    await waitFor(async () => receiver.at('/fast').length === 40, { what: 'the fast receiver to get all 40' });
    // The hanging one has been sent at most its in-flight share per replica, each held open.
    expect(receiver.at('/hangs').length).toBeGreaterThan(0);
    expect(receiver.at('/hangs').length).toBeLessThanOrEqual(2 * WEBHOOK_IN_FLIGHT_PER_RECEIVER * 3);
  });

  it('a webhook failing for the whole retry period is disabled, says why, and is owed nothing more', async () => {
    const impatient = new Webhooks(store, logger, testConfig({ WEBHOOK_RETRY_BASE_MS: '20', WEBHOOK_TIMEOUT_MS: '500', WEBHOOK_RETRY_FOR_SECONDS: '0' }), new SealedFacts(keys));
    impatient.onApplicationBootstrap();
    try {
      await subscribe('app_dead', receiver.url('/gone', () => 410), ['PushOutcome'], impatient);
      await impatient.onOutcomes([outcome('app_dead', 'm', 'dev-1'), outcome('app_dead', 'm', 'dev-2')]);
      const [hook] = await waitFor(async () => {
        const hooks = (await impatient.list('app_dead')).items;
        return hooks[0]?.disabledAt ? hooks : undefined;
      }, { what: 'the webhook to be disabled' });
      expect(hook.disabledReason).toBe('deliveries failed for 0 s; last: http 410');
      const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM delivery.webhook_deliveries WHERE app_id = 'app_dead' AND delivered_at IS NULL");
      expect(rows[0].n).toBe(0);
      const before = receiver.at('/gone').length;
      await impatient.onOutcomes([outcome('app_dead', 'm2', 'dev-1')]);
      expect((await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM delivery.webhook_deliveries WHERE app_id = 'app_dead' AND delivered_at IS NULL")).rows[0].n).toBe(0);
      expect(receiver.at('/gone').length).toBe(before);
    } finally {
      await impatient.onApplicationShutdown();
    }
  });
});
