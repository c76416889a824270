import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { PushledgerConfig } from '@pushledger/config';
import {
  ALL_WEBHOOK_EVENTS,
  deterministicUuid,
  parseStream,
  type CreateWebhookCommand,
  type DeliveryOutcomeV1,
  type ListPageV1,
  type PagedV1,
  type WebhookDeliveryBodyV1,
  type WebhookV1,
} from '@pushledger/contracts';
import { JsonLogger, redact } from '@pushledger/observability';
import { CONFIG, openCredential, sealCredential } from '@pushledger/platform';
import { SealedFacts } from '@pushledger/privacy';
import { postWebhook } from '../infrastructure/webhook-sender';
import { WebhookStore, type NewDelivery, type PendingDelivery, type WebhookRecord } from '../infrastructure/webhook-store';
import { afterFailure, WEBHOOK_IN_FLIGHT_PER_RECEIVER } from './webhook-policy';

/** A lifecycle fact as the relay publishes it on `pushledger.device-lifecycle.v1`: as stored, personal data and tokens sealed. */
export interface LifecycleEnvelope {
  eventId: string;
  type: string;
  stream: string;
  data: unknown;
  metadata?: { appId?: string; occurredAt?: string };
}

interface WebhookEvent {
  appId: string;
  /** What one device's (or one user's) deliveries are ordered by. */
  lane: string;
  body: WebhookDeliveryBodyV1;
}

const DISPATCH_EVERY_MS = 250;
const SUBSCRIBERS_FRESH_MS = 1000;
const PURGE_EVERY_MS = 600_000;
const LEASE_BATCH = 200;

/** Subscriptions (`POST`/`GET`/`DELETE /v1/webhooks`), the deliveries owed for lifecycle facts and push outcomes, and sending them. */
@Injectable()
export class Webhooks implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private purger?: NodeJS.Timeout;
  private ticking = false;
  private readonly sending = new Map<string, Promise<void>>();

  constructor(
    private readonly store: WebhookStore,
    private readonly logger: JsonLogger,
    @Inject(CONFIG) private readonly config: PushledgerConfig,
    private readonly facts: SealedFacts,
  ) {}

  async create(c: CreateWebhookCommand): Promise<WebhookV1> {
    const created = await this.store.create({ appId: c.appId, id: c.webhookId, url: c.url, events: c.events, secret: c.secret });
    this.cache = undefined;
    return created;
  }

  list(appId: string, page?: ListPageV1): Promise<PagedV1<WebhookV1>> {
    return this.store.page(appId, page);
  }

  async delete(appId: string, webhookId: string): Promise<boolean> {
    const deleted = await this.store.delete(appId, webhookId);
    this.cache = undefined;
    return deleted;
  }

  private cache?: { at: number; webhooks: Promise<WebhookRecord[]> };

  /**
   * Every live webhook, read at most once a second: the facts of every device pass here, and only a few
   * apps have webhooks. A webhook receives what happens from at most a second after it was created.
   */
  private subscribers(): Promise<WebhookRecord[]> {
    if (!this.cache || Date.now() - this.cache.at > SUBSCRIBERS_FRESH_MS) {
      const webhooks = this.store.subscribers();
      this.cache = { at: Date.now(), webhooks };
      webhooks.catch(() => (this.cache = undefined));
    }
    return this.cache.webhooks;
  }

  /** Owed deliveries for a batch of lifecycle facts; stored before the batch's offsets are committed. */
  async onLifecycle(envelopes: LifecycleEnvelope[]): Promise<void> {
    const events = envelopes.flatMap((e) => lifecycleEvent(e) ?? []);
    const subscribers = await this.subscribers();
    const wanted = events.filter((e) => subscribers.some((w) => wants(w, e)));
    if (!wanted.length) return;
    // Opened only where a webhook takes the fact's type: one key lookup per batch, none for the rest.
    const opened = await this.facts.open(wanted.map((e) => e.body));
    await this.enqueue(wanted.map((e, i) => ({ ...e, body: { ...opened[i], data: redact(opened[i].data) } })));
  }

  async onOutcomes(outcomes: DeliveryOutcomeV1[]): Promise<void> {
    await this.enqueue(outcomes.map(outcomeEvent));
  }

  private async enqueue(events: WebhookEvent[]): Promise<void> {
    if (!events.length) return;
    const subscribers = await this.subscribers();
    if (!subscribers.length) return;
    const owed: NewDelivery[] = [];
    for (const e of events) {
      for (const w of subscribers) {
        if (!wants(w, e)) continue;
        owed.push({ appId: e.appId, webhookId: w.id, eventId: e.body.id, lane: e.lane, body: sealCredential(e.body, 'webhook.body', e.appId, this.config.secretKey) });
      }
    }
    await this.store.enqueue(owed);
    if (owed.length) void this.tick();
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), DISPATCH_EVERY_MS);
    this.purger = setInterval(() => void this.store.purgeDelivered().catch(() => undefined), PURGE_EVERY_MS);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.purger) clearInterval(this.purger);
    await Promise.allSettled([...this.sending.values()]);
  }

  /** Leases what is due, webhook by webhook; a webhook still being sent to is skipped, so a slow receiver holds up only itself. */
  async tick(): Promise<void> {
    if (this.ticking || !this.timer) return;
    this.ticking = true;
    try {
      const leaseMs = this.config.webhooks.timeoutMs * 2 + 5000;
      const due = await this.store.leaseDue([...this.sending.keys()], LEASE_BATCH, leaseMs);
      const byWebhook = new Map<string, PendingDelivery[]>();
      for (const d of due) byWebhook.set(d.webhookId, [...(byWebhook.get(d.webhookId) ?? []), d]);
      for (const [webhookId, deliveries] of byWebhook) {
        this.sending.set(
          webhookId,
          this.sendAll(deliveries)
            .catch((err: Error) => this.logger.warn('webhook deliveries failed; retried when their lease lapses', { webhookId, error: err.message }))
            .finally(() => this.sending.delete(webhookId)),
        );
      }
    } catch (err) {
      this.logger.warn('looking for due webhook deliveries failed; retried shortly', { error: (err as Error).message });
    } finally {
      this.ticking = false;
    }
  }

  private async sendAll(deliveries: PendingDelivery[]): Promise<void> {
    const { appId, webhookId } = deliveries[0];
    const target = await this.store.secretOf(appId, webhookId);
    // Owed after it was deleted or disabled (another replica's subscriber list was up to a second old).
    if (!target) return this.store.dropOwed(appId, webhookId);
    const secret = String(openCredential(target.secret, 'webhook.secret', appId, this.config.secretKey));
    const queue = [...deliveries];
    await Promise.all(
      Array.from({ length: Math.min(WEBHOOK_IN_FLIGHT_PER_RECEIVER, queue.length) }, async () => {
        for (let d = queue.shift(); d; d = queue.shift()) await this.sendOne(d, target.url, secret);
      }),
    );
  }

  private async sendOne(d: PendingDelivery, url: string, secret: string): Promise<void> {
    const body = JSON.stringify(openCredential(d.body, 'webhook.body', d.appId, this.config.secretKey));
    const result = await postWebhook(url, secret, body, this.config.webhooks.timeoutMs);
    if (result.ok) return this.store.delivered(d.seq);
    const verdict = afterFailure(d.attempts, d.firstAt, new Date(), this.config.webhooks, result.error);
    if (verdict.kind === 'retry') return this.store.retryLater(d.seq, verdict.dueAt, result.error);
    this.logger.warn('webhook disabled: its deliveries kept failing', { appId: d.appId, webhookId: d.webhookId, reason: verdict.reason });
    await this.store.disable(d.appId, d.webhookId, verdict.reason);
    this.cache = undefined;
  }
}

function lifecycleEvent(e: LifecycleEnvelope): WebhookEvent | null {
  const stream = parseStream(e.stream);
  const appId = e.metadata?.appId ?? stream?.appId;
  if (!stream || !appId || (stream.category !== 'device' && stream.category !== 'user')) return null;
  const occurredAt = e.metadata?.occurredAt ?? new Date().toISOString();
  return { appId, lane: `${stream.category}:${stream.id}`, body: { id: e.eventId, type: e.type, appId, occurredAt, data: e.data } };
}

function outcomeEvent(o: DeliveryOutcomeV1): WebhookEvent {
  return {
    appId: o.appId,
    lane: `device:${o.deviceId}`,
    body: {
      id: deterministicUuid(`PushOutcome:${o.appId}:${o.messageId}:${o.deviceId}:${o.outcome}`),
      type: 'PushOutcome',
      appId: o.appId,
      occurredAt: o.at,
      data: { messageId: o.messageId, campaignId: o.campaignId, deviceId: o.deviceId, outcome: o.outcome, reason: o.reason, attempts: o.attempts },
    },
  };
}

/** Whether the webhook takes this event: its app's, and a type it names (or every type). */
function wants(w: Pick<WebhookRecord, 'appId' | 'events'>, e: { appId: string; body: { type: string } }): boolean {
  return w.appId === e.appId && (w.events.includes(ALL_WEBHOOK_EVENTS) || w.events.includes(e.body.type));
}
