import type { Producer } from 'kafkajs';
import type { PushledgerConfig } from '@pushledger/config';
import type { AppRecord, DeliveryOutcomeKind, DeliveryOutcomeV1, DeliveryRequestV1, DeliveryTargetV1, RegistrationCommand, TopicMap } from '@pushledger/contracts';
import { classifyFcmError } from '@pushledger/fcm';
import { deterministicUuid } from '@pushledger/lifecycle';
import type { JsonLogger } from '@pushledger/observability';
import { CredentialSealError } from '@pushledger/platform';
import { DeliveryLedger, type LedgerOutcome } from '../infrastructure/delivery-ledger';
import { backoffMs, credentialsLookBroken, verdictOf } from './delivery-policy';
import { FcmSenders, fcmMessage } from '../infrastructure/fcm-senders';
import { QuotaLimiter } from './quota-limiter';

interface Outcome {
  target: DeliveryTargetV1;
  outcome: DeliveryOutcomeKind;
  reason: string | null;
  attempts: number;
}

const SEND_EACH_MAX = 500;

/**
 * One delivery request: send to the pairs not yet done, retry what FCM says to retry, then record the
 * device effects (sent / bounced / invalidated) as commands to the registration service and one
 * outcome per pair, and only then mark the pairs done and let the offset be committed.
 */
export class DeliveryHandler {
  private readonly quota = new QuotaLimiter();

  constructor(
    private readonly config: PushledgerConfig,
    private readonly topics: TopicMap,
    private readonly ledger: DeliveryLedger,
    private readonly senders: FcmSenders,
    private readonly producer: Producer,
    private readonly logger: JsonLogger,
    private readonly sleep: (ms: number, heartbeat: () => Promise<void>) => Promise<void> = sleepWithHeartbeat,
  ) {}

  async handle(req: DeliveryRequestV1, app: AppRecord, heartbeat: () => Promise<void>): Promise<Outcome[]> {
    await this.ledger.init();
    const pending = await this.ledger.claim(req.appId, req.messageId, req.targets.map((t) => t.deviceId));
    let remaining = req.targets.filter((t) => pending.has(t.deviceId));
    const outcomes: Outcome[] = [];
    const finish = (targets: DeliveryTargetV1[], outcome: DeliveryOutcomeKind, reason: string | null, attempts: number) => {
      for (const target of targets) outcomes.push({ target, outcome, reason, attempts });
    };

    const paused = await this.ledger.pausedReason(app.id);
    let unreadable = false;
    let messaging: ReturnType<FcmSenders['for']> = null;
    try {
      messaging = paused ? null : this.senders.for(app);
    } catch (err) {
      if (!(err instanceof CredentialSealError)) throw err;
      // A key that does not open the credentials will not open them on a retry either.
      unreadable = true;
      this.logger.error('app credentials cannot be opened with the configured PUSHLEDGER_SECRET_KEY', { appId: app.id, error: err.message });
    }
    if (paused) finish(remaining, 'failed', `app_paused:${paused}`, 0);
    else if (unreadable) finish(remaining, 'failed', 'credentials_unreadable', 0);
    else if (!messaging) finish(remaining, 'failed', 'no_fcm_credentials', 0);
    else {
      for (let attempt = 1; remaining.length > 0; attempt++) {
        const retry: DeliveryTargetV1[] = [];
        let retryAfter: number | undefined;
        let credentialFailures = 0;
        let wholeMessageFailed: string | null = null;
        for (let i = 0; i < remaining.length; i += SEND_EACH_MAX) {
          const chunk = remaining.slice(i, i + SEND_EACH_MAX);
          const wait = this.quota.reserve(app.id, chunk.length, app.settings.fcmQuotaPerMinute);
          if (wait > 0) await this.sleep(wait, heartbeat);
          await this.ledger.countSends(req.messageId, chunk.map((t) => t.deviceId));
          const batch = await messaging.sendEach(chunk.map((t) => fcmMessage(req.messageId, t, req.content)));
          batch.responses.forEach((r, j) => {
            const target = chunk[j];
            if (r.success) return finish([target], 'sent', null, attempt);
            const verdict = verdictOf(classifyFcmError(r.error));
            switch (verdict.kind) {
              case 'sent':
                return finish([target], 'sent', null, attempt);
              case 'invalidated':
                return finish([target], 'invalidated', verdict.reason, attempt);
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
            await this.pauseApp(app, share);
            finish([...retry.splice(0), ...remaining.slice(i + SEND_EACH_MAX)], 'failed', 'app_paused:credentials', attempt);
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
    await this.record(req, outcomes);
    return outcomes;
  }

  private async pauseApp(app: AppRecord, share: number): Promise<void> {
    await this.ledger.pause(app.id, 'credentials', share);
    this.logger.error('app sends paused: most of a batch failed on credentials; no token was touched', { appId: app.id, failedShare: share });
    await this.producer.send({
      topic: this.topics.deliveryOutcomes,
      acks: -1,
      messages: [{ key: app.id, value: JSON.stringify({ type: 'AppSendsPaused', appId: app.id, reason: 'credentials', failedShare: share, at: new Date().toISOString() }), headers: { kind: 'alert' } }],
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
      if (o.outcome === 'invalidated') commands.push({ ...base, type: 'InvalidateToken', deviceId: o.target.deviceId, token: o.target.token, messageId: req.messageId, reason: o.reason ?? 'UNREGISTERED' });
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
