import type { Producer } from 'kafkajs';
import type { PushledgerConfig } from '@pushledger/config';
import type { AppRecord, DeliveryOutcomeKind, DeliveryOutcomeV1, DeliveryRequestV1, DeliveryTargetV1, Provider, RegistrationCommand, TopicMap } from '@pushledger/contracts';
import { deterministicUuid } from '@pushledger/lifecycle';
import type { JsonLogger } from '@pushledger/observability';
import { CredentialSealError } from '@pushledger/platform';
import { DeliveryLedger, type LedgerOutcome } from '../infrastructure/delivery-ledger';
import { backoffMs, credentialsLookBroken, verdictOf } from './delivery-policy';
import type { ProviderSender, PushSenders } from '../infrastructure/push-senders';
import { QuotaLimiter } from './quota-limiter';

interface Outcome {
  target: DeliveryTargetV1;
  outcome: DeliveryOutcomeKind;
  reason: string | null;
  attempts: number;
  /** APNs 410: when the token was last known dead; registration flows keep a token registered after it. */
  invalidSince?: string;
}

/** The pause a credentials breaker trips, per provider: `credentials` (FCM, as before) pauses only FCM sends. */
const PAUSE_REASONS: Record<Provider, string> = { fcm: 'credentials', apns: 'apns_credentials', webpush: 'webpush_credentials' };

/**
 * One delivery request: send to the pairs not yet done, each through its device's provider, retry what the provider says to retry, then record the
 * device effects (sent / bounced / invalidated) as commands to the registration service and one
 * outcome per pair, and only then mark the pairs done and let the offset be committed.
 */
export class DeliveryHandler {
  private readonly quota = new QuotaLimiter();

  constructor(
    private readonly config: PushledgerConfig,
    private readonly topics: TopicMap,
    private readonly ledger: DeliveryLedger,
    private readonly senders: PushSenders,
    private readonly producer: Producer,
    private readonly logger: JsonLogger,
    private readonly sleep: (ms: number, heartbeat: () => Promise<void>) => Promise<void> = sleepWithHeartbeat,
  ) {}

  async handle(req: DeliveryRequestV1, app: AppRecord, heartbeat: () => Promise<void>): Promise<Outcome[]> {
    await this.ledger.init();
    const pending = await this.ledger.claim(req.appId, req.messageId, req.targets.map((t) => t.deviceId));
    const outcomes: Outcome[] = [];
    const byProvider = new Map<Provider, DeliveryTargetV1[]>();
    for (const t of req.targets) {
      if (!pending.has(t.deviceId)) continue;
      // Requests made before targets named their provider were all FCM.
      const provider = t.provider ?? 'fcm';
      byProvider.set(provider, [...(byProvider.get(provider) ?? []), t]);
    }
    const paused = await this.ledger.pausedReason(app.id);
    for (const [provider, targets] of byProvider) await this.sendThrough(provider, req, app, targets, paused, outcomes, heartbeat);
    await this.record(req, outcomes);
    return outcomes;
  }

  /** One provider's targets: its own sender only, never another's; the ledger, retries and breaker are shared. */
  private async sendThrough(provider: Provider, req: DeliveryRequestV1, app: AppRecord, targets: DeliveryTargetV1[], paused: string | null, outcomes: Outcome[], heartbeat: () => Promise<void>): Promise<void> {
    const finish = (list: DeliveryTargetV1[], outcome: DeliveryOutcomeKind, reason: string | null, attempts: number) => {
      for (const target of list) outcomes.push({ target, outcome, reason, attempts });
    };
    const pauseReason = PAUSE_REASONS[provider];
    if (paused !== null && paused === pauseReason) return finish(targets, 'failed', `app_paused:${paused}`, 0);
    let sender: ProviderSender | null;
    try {
      sender = this.senders.for(app, provider);
    } catch (err) {
      if (!(err instanceof CredentialSealError)) throw err;
      // A key that does not open the credentials will not open them on a retry either.
      this.logger.error('app credentials cannot be opened with the configured PUSHLEDGER_SECRET_KEY', { appId: app.id, provider, error: err.message });
      return finish(targets, 'failed', 'credentials_unreadable', 0);
    }
    // Targeting skips these already; credentials removed since the request was made: never sent elsewhere, never invalidated.
    if (!sender) return finish(targets, 'skipped', 'no_credentials', 0);
    let remaining = targets;
    for (let attempt = 1; remaining.length > 0; attempt++) {
      const retry: DeliveryTargetV1[] = [];
      let retryAfter: number | undefined;
      let credentialFailures = 0;
      let wholeMessageFailed: string | null = null;
      for (let i = 0; i < remaining.length; i += sender.batchSize) {
        const chunk = remaining.slice(i, i + sender.batchSize);
        if (provider === 'fcm') {
          const wait = this.quota.reserve(app.id, chunk.length, app.settings.fcmQuotaPerMinute);
          if (wait > 0) await this.sleep(wait, heartbeat);
        }
        await this.ledger.countSends(req.messageId, chunk.map((t) => t.deviceId));
        const answers = await sender.send(req.messageId, chunk, req.content);
        answers.forEach((r, j) => {
          const target = chunk[j];
          if (r.ok) return finish([target], 'sent', null, attempt);
          const verdict = verdictOf(r.error);
          switch (verdict.kind) {
            case 'sent':
              return finish([target], 'sent', null, attempt);
            case 'invalidated':
              if (verdict.invalidSince) outcomes.push({ target, outcome: 'invalidated', reason: verdict.reason, attempts: attempt, invalidSince: verdict.invalidSince });
              else finish([target], 'invalidated', verdict.reason, attempt);
              return;
            case 'bounced':
              if (verdict.credential) credentialFailures++;
              return finish([target], 'bounced', verdict.reason, attempt);
            case 'failed':
              if (verdict.credential) credentialFailures++;
              if (verdict.wholeMessage) wholeMessageFailed = verdict.reason;
              return finish([target], 'failed', verdict.reason, attempt);
            case 'retry':
              retry.push(target);
              retryAfter = Math.max(retryAfter ?? 0, verdict.retryAfterMs ?? 0) || retryAfter;
              return;
          }
        });
        if (credentialsLookBroken(credentialFailures, Math.min(remaining.length, i + chunk.length))) {
          const share = credentialFailures / Math.min(remaining.length, i + chunk.length);
          await this.pauseApp(app, pauseReason, share);
          finish([...retry.splice(0), ...remaining.slice(i + sender.batchSize)], 'failed', `app_paused:${pauseReason}`, attempt);
          break;
        }
      }
      if (wholeMessageFailed) {
        finish(retry.splice(0), 'failed', wholeMessageFailed, attempt);
      }
      if (retry.length === 0) break;
      if (attempt >= this.config.delivery.maxAttempts) {
        finish(retry, 'bounced', 'retries_exhausted', attempt);
        break;
      }
      await this.sleep(backoffMs(attempt, this.config.delivery.retryBaseMs, retryAfter), heartbeat);
      remaining = retry;
    }
  }

  private async pauseApp(app: AppRecord, reason: string, share: number): Promise<void> {
    await this.ledger.pause(app.id, reason, share);
    this.logger.error('app sends paused: most of a batch failed on credentials; no token was touched', { appId: app.id, failedShare: share });
    await this.producer.send({
      topic: this.topics.deliveryOutcomes,
      acks: -1,
      messages: [{ key: app.id, value: JSON.stringify({ type: 'AppSendsPaused', appId: app.id, reason, failedShare: share, at: new Date().toISOString() }), headers: { kind: 'alert' } }],
    });
  }

  /**
   * Device effects and outcome events are durable in Kafka before the ledger records the outcomes (pairs
   * done, outcome rows, counters: one transaction). Skipped devices named by the sender are recorded too.
   */
  private async record(req: DeliveryRequestV1, outcomes: Outcome[]): Promise<void> {
    const issuedAt = new Date().toISOString();
    const commands: RegistrationCommand[] = [];
    for (const o of outcomes) {
      const base = { appId: req.appId, issuedAt, commandId: deterministicUuid(`delivery:${req.messageId}:${o.target.deviceId}:${o.outcome}`) };
      if (o.outcome === 'sent') commands.push({ ...base, type: 'RecordPushSent', deviceId: o.target.deviceId, token: o.target.token, messageId: req.messageId });
      if (o.outcome === 'bounced') commands.push({ ...base, type: 'RecordPushBounced', deviceId: o.target.deviceId, token: o.target.token, messageId: req.messageId, reason: o.reason ?? 'bounced' });
      if (o.outcome === 'invalidated') commands.push({ ...base, type: 'InvalidateToken', deviceId: o.target.deviceId, token: o.target.token, messageId: req.messageId, reason: o.reason ?? 'UNREGISTERED', ...(o.invalidSince ? { invalidSince: o.invalidSince } : {}) });
    }
    const rows: LedgerOutcome[] = [
      ...outcomes.map((o) => ({ deviceId: o.target.deviceId, outcome: o.outcome, reason: o.reason, attempts: o.attempts })),
      ...(req.skipped ?? []).map((s) => ({ deviceId: s.deviceId, outcome: 'skipped' as const, reason: s.reason, attempts: 0 })),
    ];
    const events: DeliveryOutcomeV1[] = rows.map((o) => ({ messageId: req.messageId, appId: req.appId, campaignId: req.campaignId, deviceId: o.deviceId, outcome: o.outcome, reason: o.reason, attempts: o.attempts, at: issuedAt }));
    const topicMessages = [
      ...(commands.length ? [{ topic: this.topics.registrationCommands, messages: commands.map((c) => ({ key: 'deviceId' in c ? c.deviceId : null, value: JSON.stringify(c) })) }] : []),
      ...(events.length ? [{ topic: this.topics.deliveryOutcomes, messages: events.map((e) => ({ key: `${e.messageId}:${e.deviceId}`, value: JSON.stringify(e), headers: { kind: 'outcome' } })) }] : []),
    ];
    if (topicMessages.length) await this.producer.sendBatch({ acks: -1, topicMessages });
    await this.ledger.record(req.appId, req.messageId, req.campaignId, rows, new Date(issuedAt));
  }
}

async function sleepWithHeartbeat(ms: number, heartbeat: () => Promise<void>): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, Math.min(2000, until - Date.now())));
    await heartbeat().catch(() => undefined);
  }
}
