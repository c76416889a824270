import { randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import type { PushledgerConfig } from '@pushledger/config';
import { isSealedTarget, routingOf, type AppRecord, type DeliveryOutcomeKind, type DeliveryOutcomeV1, type DeliveryRecipientV1, type DeliveryRequestV1, type DeliveryTargetV1, type Provider, type RegistrationCommand, type TopicMap } from '@pushledger/contracts';
import { deterministicUuid } from '@pushledger/lifecycle';
import { tokenHash, type JsonLogger } from '@pushledger/observability';
import { commandSeals, DeferMessageError, type MessageSeal } from '@pushledger/kafka';
import { CredentialSealError } from '@pushledger/platform';
import type { RecipientSeals } from '@pushledger/privacy';
import { DeliveryLedger, type LedgerOutcome } from '../infrastructure/delivery-ledger';
import { backoffMs, credentialsLookBroken, MAX_WAIT_IN_HANDLER_MS, PAIR_LEASE_MS, sentIsNews, verdictOf } from './delivery-policy';
import type { ProviderSender, PushSenders } from '../infrastructure/push-senders';
import { quotaBurst, type QuotaLimiter } from './quota-limiter';

/** The outcomes that move a device's last status, remembered per device by the ledger. */
const EFFECTS = new Set<DeliveryOutcomeKind>(['sent', 'bounced', 'invalidated']);

interface Outcome {
  target: DeliveryTargetV1;
  outcome: DeliveryOutcomeKind;
  reason: string | null;
  attempts: number;
  /** APNs 410: when the token was last known dead; registration flows keep a token registered after it. */
  invalidSince?: string;
}

/** A wait longer than a handler may hold its message: what finished is recorded, the rest comes back after `afterMs`. */
interface Deferral {
  afterMs: number;
  reason: string;
}

/** The pause a credentials breaker trips, per provider: `credentials` (FCM, as before) pauses only FCM sends. */
const PAUSE_REASONS: Record<Provider, string> = { fcm: 'credentials', apns: 'apns_credentials', webpush: 'webpush_credentials' };

/**
 * One delivery request: send to the pairs not yet done, each through its device's provider, retry what the provider says to retry, then record the
 * device effects (sent / bounced / invalidated) as commands to the registration service and one
 * outcome per pair, and only then mark the pairs done and let the offset be committed.
 */
export class DeliveryHandler {
  private readonly commandSeal: MessageSeal;

  constructor(
    private readonly config: PushledgerConfig,
    private readonly topics: TopicMap,
    private readonly ledger: DeliveryLedger,
    private readonly senders: PushSenders,
    private readonly producer: Producer,
    private readonly quota: QuotaLimiter,
    private readonly logger: JsonLogger,
    private readonly seals: RecipientSeals,
    private readonly sleep: (ms: number, heartbeat: () => Promise<void>) => Promise<void> = sleepWithHeartbeat,
    /** This process, as the holder of the pairs it sends (a restarted process is another holder); the pid lets operators tell whose. */
    private readonly holder: string = `${process.pid}:${randomUUID()}`,
  ) {
    this.commandSeal = commandSeals(config).command;
  }

  async handle(wire: DeliveryRequestV1, app: AppRecord, heartbeat: () => Promise<void>): Promise<Outcome[]> {
    await this.ledger.init();
    const req = await this.opened(wire);
    const { pending, heldForMs } = await this.ledger.claim(req.appId, req.messageId, req.targets.map((t) => t.deviceId), this.holder);
    const outcomes: Outcome[] = [];
    const byProvider = new Map<Provider, DeliveryTargetV1[]>();
    for (const t of req.targets) {
      if (!pending.has(t.deviceId)) continue;
      // Requests made before targets named their provider were all FCM.
      const provider = t.provider ?? 'fcm';
      byProvider.set(provider, [...(byProvider.get(provider) ?? []), t]);
    }
    const paused = await this.ledger.pausedReason(app.id);
    let deferral: Deferral | null = null;
    for (const [provider, targets] of byProvider) {
      const d = await this.sendThrough(provider, req, app, targets, pending, paused, outcomes, heartbeat);
      if (d && (!deferral || d.afterMs > deferral.afterMs)) deferral = d;
    }
    // Pairs another holder may still be sending come again once its lease has run out.
    if (heldForMs > 0 && (!deferral || heldForMs > deferral.afterMs)) deferral = { afterMs: heldForMs, reason: 'pairs_leased' };
    await this.record(req, outcomes);
    // What finished is recorded; the pairs still pending come again with the message, after the wait.
    if (deferral) throw new DeferMessageError(deferral.afterMs, deferral.reason);
    return outcomes;
  }

  /** The targets in clear. One whose device key is gone (its user was erased since it was targeted) is skipped as `erased`. */
  private async opened(wire: DeliveryRequestV1): Promise<DeliveryRequestV1<DeliveryTargetV1>> {
    const sealed = wire.targets.filter(isSealedTarget);
    if (sealed.length === 0) return wire as DeliveryRequestV1<DeliveryTargetV1>;
    const recipients = await this.seals.open(sealed.map((t) => t.recipient));
    const targets: DeliveryTargetV1[] = [];
    const erased: { deviceId: string; reason: string }[] = [];
    let next = 0;
    for (const t of wire.targets) {
      if (!isSealedTarget(t)) {
        targets.push(t);
        continue;
      }
      const r = recipients[next++] as Partial<DeliveryRecipientV1> | undefined;
      if (typeof r?.token !== 'string') erased.push({ deviceId: t.deviceId, reason: 'erased' });
      else targets.push({ ...routingOf(t), token: r.token, userId: r.userId ?? null, content: r.content ?? null });
    }
    return { ...wire, targets, skipped: [...(wire.skipped ?? []), ...erased] };
  }

  /**
   * One provider's targets: its own sender only, never another's; the ledger, retries and breaker are shared.
   * `sends` holds each pair's sends so far (across deferrals and redeliveries) and counts the attempts.
   * Answers a deferral when the next wait (quota, Retry-After, back-off) is longer than a handler may hold.
   */
  private async sendThrough(provider: Provider, req: DeliveryRequestV1<DeliveryTargetV1>, app: AppRecord, targets: DeliveryTargetV1[], sends: Map<string, number>, paused: string | null, outcomes: Outcome[], heartbeat: () => Promise<void>): Promise<Deferral | null> {
    const attemptsOf = (target: DeliveryTargetV1) => sends.get(target.deviceId) ?? 0;
    const finish = (list: DeliveryTargetV1[], outcome: DeliveryOutcomeKind, reason: string | null) => {
      for (const target of list) outcomes.push({ target, outcome, reason, attempts: attemptsOf(target) });
    };
    const pauseReason = PAUSE_REASONS[provider];
    if (paused !== null && paused === pauseReason) return (finish(targets, 'failed', `app_paused:${paused}`), null);
    let sender: ProviderSender | null;
    try {
      sender = this.senders.for(app, provider);
    } catch (err) {
      if (!(err instanceof CredentialSealError)) throw err;
      // A key that does not open the credentials will not open them on a retry either.
      this.logger.error('app credentials cannot be opened with the configured PUSHLEDGER_SECRET_KEY', { appId: app.id, provider, error: err.message });
      return (finish(targets, 'failed', 'credentials_unreadable'), null);
    }
    // Targeting skips these already; credentials removed since the request was made: never sent elsewhere, never invalidated.
    if (!sender) return (finish(targets, 'skipped', 'no_credentials'), null);
    const chunkSize = provider === 'fcm' ? Math.min(sender.batchSize, quotaBurst(app.settings.fcmQuotaPerMinute)) : sender.batchSize;
    let remaining = targets;
    while (remaining.length > 0) {
      const retry: DeliveryTargetV1[] = [];
      let retryAfter: number | undefined;
      let credentialFailures = 0;
      let wholeMessageFailed: string | null = null;
      for (let i = 0; i < remaining.length; i += chunkSize) {
        const chunk = remaining.slice(i, i + chunkSize);
        // A cancelled campaign send stops between provider batches: what is not sent yet is skipped, never sent later.
        if (req.campaignId !== null && (await this.ledger.isCancelled(app.id, req.messageId))) {
          finish([...retry.splice(0), ...remaining.slice(i)], 'skipped', 'cancelled');
          return null;
        }
        if (provider === 'fcm') {
          const quota = await this.quota.reserve(app.id, chunk.length, app.settings.fcmQuotaPerMinute, MAX_WAIT_IN_HANDLER_MS);
          // The chunks not sent in this round and the ones to retry stay pending in the ledger.
          if (quota.deferMs !== undefined) return { afterMs: quota.deferMs, reason: 'fcm_quota' };
          if (quota.waitMs > 0 && !(await this.waited(quota.waitMs, heartbeat))) return { afterMs: 0, reason: 'heartbeat_failed' };
        }
        await this.ledger.countSends(req.messageId, chunk.map((t) => t.deviceId), this.holder, PAIR_LEASE_MS);
        for (const t of chunk) sends.set(t.deviceId, attemptsOf(t) + 1);
        const answers = await sender.send(req.messageId, chunk, req.content);
        answers.forEach((r, j) => {
          const target = chunk[j];
          if (r.ok) return finish([target], 'sent', null);
          const verdict = verdictOf(r.error);
          switch (verdict.kind) {
            case 'sent':
              return finish([target], 'sent', null);
            case 'invalidated':
              if (verdict.invalidSince) outcomes.push({ target, outcome: 'invalidated', reason: verdict.reason, attempts: attemptsOf(target), invalidSince: verdict.invalidSince });
              else finish([target], 'invalidated', verdict.reason);
              return;
            case 'bounced':
              if (verdict.credential) credentialFailures++;
              return finish([target], 'bounced', verdict.reason);
            case 'failed':
              if (verdict.credential) credentialFailures++;
              if (verdict.wholeMessage) wholeMessageFailed = verdict.reason;
              return finish([target], 'failed', verdict.reason);
            case 'retry':
              retry.push(target);
              retryAfter = Math.max(retryAfter ?? 0, verdict.retryAfterMs ?? 0) || retryAfter;
              return;
          }
        });
        // A rebalance took the partition, or the broker is gone: stop here rather than send what another member will send.
        if (!(await this.beat(heartbeat))) return { afterMs: 0, reason: 'heartbeat_failed' };
        const answered = Math.min(remaining.length, i + chunk.length);
        if (credentialsLookBroken(credentialFailures, answered)) {
          await this.pauseApp(app, pauseReason, credentialFailures / answered);
          finish([...retry.splice(0), ...remaining.slice(i + chunkSize)], 'failed', `app_paused:${pauseReason}`);
          break;
        }
      }
      if (wholeMessageFailed) finish(retry.splice(0), 'failed', wholeMessageFailed);
      const exhausted = retry.filter((t) => attemptsOf(t) >= this.config.delivery.maxAttempts);
      finish(exhausted, 'bounced', 'retries_exhausted');
      remaining = retry.filter((t) => attemptsOf(t) < this.config.delivery.maxAttempts);
      if (remaining.length === 0) break;
      const wait = backoffMs(Math.max(...remaining.map(attemptsOf)), this.config.delivery.retryBaseMs, retryAfter);
      if (wait > MAX_WAIT_IN_HANDLER_MS) return { afterMs: Math.ceil(wait), reason: retryAfter !== undefined ? 'retry_after' : 'backoff' };
      if (!(await this.waited(wait, heartbeat))) return { afterMs: 0, reason: 'heartbeat_failed' };
    }
    return null;
  }

  /** Waits with heartbeats; false when a heartbeat failed (a rebalance, the broker gone): the batch must stop. */
  private waited(ms: number, heartbeat: () => Promise<void>): Promise<boolean> {
    return this.beat(() => this.sleep(ms, heartbeat));
  }

  private async beat(heartbeat: () => Promise<void>): Promise<boolean> {
    try {
      await heartbeat();
      return true;
    } catch (err) {
      this.logger.warn('heartbeat failed: the rest of the request waits for its next delivery', { error: (err as Error).message });
      return false;
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
  private async record(req: DeliveryRequestV1<DeliveryTargetV1>, outcomes: Outcome[]): Promise<void> {
    const issuedAt = new Date().toISOString();
    const commands: RegistrationCommand[] = [];
    const hashes = new Map(outcomes.map((o) => [o.target.deviceId, tokenHash(o.target.token)]));
    const remembered = await this.ledger.lastEffects(req.appId, outcomes.filter((o) => o.outcome === 'sent' && o.target.lastStatus === 'sent').map((o) => o.target.deviceId));
    for (const o of outcomes) {
      const base = { appId: req.appId, issuedAt, commandId: deterministicUuid(`delivery:${req.messageId}:${o.target.deviceId}:${o.outcome}`) };
      const news = sentIsNews(o.target.lastStatus, remembered.get(o.target.deviceId), hashes.get(o.target.deviceId)!);
      if (o.outcome === 'sent' && news) commands.push({ ...base, type: 'RecordPushSent', deviceId: o.target.deviceId, tokenHash: hashes.get(o.target.deviceId)!, messageId: req.messageId });
      if (o.outcome === 'bounced') commands.push({ ...base, type: 'RecordPushBounced', deviceId: o.target.deviceId, tokenHash: hashes.get(o.target.deviceId)!, messageId: req.messageId, reason: o.reason ?? 'bounced' });
      if (o.outcome === 'invalidated') commands.push({ ...base, type: 'InvalidateToken', deviceId: o.target.deviceId, tokenHash: hashes.get(o.target.deviceId)!, messageId: req.messageId, reason: o.reason ?? 'UNREGISTERED', ...(o.invalidSince ? { invalidSince: o.invalidSince } : {}) });
    }
    const rows: LedgerOutcome[] = [
      ...outcomes.map((o) => ({ deviceId: o.target.deviceId, outcome: o.outcome, reason: o.reason, attempts: o.attempts, ...(EFFECTS.has(o.outcome) ? { tokenHash: hashes.get(o.target.deviceId) } : {}) })),
      ...(req.skipped ?? []).map((s) => ({ deviceId: s.deviceId, outcome: 'skipped' as const, reason: s.reason, attempts: 0 })),
    ];
    const events: DeliveryOutcomeV1[] = rows.map((o) => ({ messageId: req.messageId, appId: req.appId, campaignId: req.campaignId, deviceId: o.deviceId, outcome: o.outcome, reason: o.reason, attempts: o.attempts, at: issuedAt }));
    const topicMessages = [
      ...(commands.length ? [{ topic: this.topics.registrationCommands, messages: commands.map((c) => ({ key: 'deviceId' in c ? c.deviceId : null, value: this.commandSeal.seal(c) })) }] : []),
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
    await heartbeat();
  }
}
