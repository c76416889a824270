import { Inject, Injectable } from '@nestjs/common';
import { AppRecord, CampaignAudienceResult, CampaignDefinitionV1, CampaignSendResultV1, DeliveryRequestV1, MessageQueryResult, OutgoingTargetV1, MAX_TARGETS_PER_REQUEST, PushTarget, SendPushResultV1, userStream } from '@pushledger/contracts';
import { campaignSendStatus, DeviceView, userDecider } from '@pushledger/domain';
import { StreamExecutor } from '@pushledger/lifecycle';
import { CampaignDoc, CampaignsStore, inWave, localTimeWaves, MessagesStore, type LocalTimeWave } from '@pushledger/messages';
import { CampaignSends, type WaveCheck } from './campaign-sends';
import { DeliveryRequests } from './delivery-requests';
import { randomUUID } from 'crypto';
import { AUDIENCE_SOURCE, AudienceSource } from './audience';
import { PushSender } from './push.sender';
import { render, TemplateScope, usesPlaceholders } from '@pushledger/messages';

export class CampaignError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Runs campaigns: transactional sends to one target, broadcasts to an audience, triggered sends per event. */
@Injectable()
export class CampaignRunner {
  constructor(
    private readonly campaigns: CampaignsStore,
    private readonly messageRecords: MessagesStore,
    private readonly pushes: PushSender,
    private readonly sends: CampaignSends,
    private readonly exec: StreamExecutor,
    @Inject(AUDIENCE_SOURCE) private readonly audience: AudienceSource,
    private readonly requests: DeliveryRequests,
  ) {}

  async create(def: CampaignDefinitionV1): Promise<CampaignDoc> {
    return this.campaigns.create(def);
  }

  /**
   * A transactional campaign is sent at once and answers with its plan. A broadcast is only recorded here
   * (due now, or at its schedule): the scheduler streams its audience, so the answer does not wait for it.
   */
  async send(app: AppRecord, campaignId: string, messageId: string, to: PushTarget | null, properties: Record<string, unknown>, now = new Date()): Promise<CampaignSendResultV1> {
    const campaign = await this.campaigns.get(app.id, campaignId);
    if (!campaign) throw new CampaignError('not_found', 'campaign not found');
    switch (campaign.kind) {
      case 'triggered':
        throw new CampaignError('invalid_campaign_kind', 'a triggered campaign sends when its event arrives; it cannot be sent by hand');
      case 'transactional':
        if (!to) throw new CampaignError('validation_failed', 'to: a transactional campaign needs a target (userId, deviceId or token)');
        return { ...(await this.sendTo(app, campaign, messageId, to, { event: { name: campaign.name, properties } }, now)), status: 'sent' };
      case 'broadcast': {
        const waves = campaign.schedule?.localTime
          ? localTimeWaves(new Date(campaign.schedule.at)).map((w) => ({ wave: w.dueAt, dueAt: w.dueAt }))
          : [{ wave: null, dueAt: (campaign.schedule && new Date(campaign.schedule.at) > now ? new Date(campaign.schedule.at) : now).toISOString() }];
        // A retried request (same idempotency key) finds the send as the first one left it.
        const send = await this.sends.schedule(app.id, campaign.id, messageId, waves, now);
        const status = campaignSendStatus(send);
        const first = send.waves[0];
        if (status === 'sent' || status === 'failed' || status === 'cancelled') return { messageId, status, targeted: sum(send.waves.map((w) => w.targeted)), skipped: null };
        // A local-time send answers with its first wave, even one already due: the others follow over the day.
        if (campaign.schedule?.localTime || new Date(first.dueAt) > now) return { messageId, status: 'scheduled', targeted: null, skipped: null, scheduledFor: first.dueAt };
        return { messageId, status: 'sending', targeted: null, skipped: null };
      }
      default: {
        const _exhaustive: never = campaign.kind;
        throw new CampaignError('invalid_campaign_kind', String(_exhaustive));
      }
    }
  }

  /** One user, device or token: the PushSender's plan, with content rendered per device. Traits are read for this send only and not kept. */
  async sendTo(app: AppRecord, campaign: CampaignDefinitionV1, messageId: string, to: PushTarget, scope: TemplateScope, now = new Date()): Promise<SendPushResultV1> {
    const traits = new Map<string, Record<string, unknown>>();
    const traitsOf = async (userId: string) => {
      if (!usesPlaceholders(campaign.content)) return {};
      const loaded = ((await this.exec.load(userDecider, userStream(app.id, userId))).state?.traits ?? {}) as Record<string, unknown>;
      traits.set(userId, loaded);
      return loaded;
    };
    if ('userId' in to) await traitsOf(to.userId);
    return this.pushes.send(
      {
        appId: app.id,
        messageId,
        campaignId: campaign.id,
        to,
        content: render(campaign.content, scope, null),
        transactional: campaign.transactional,
        devicePolicy: campaign.devicePolicy,
        topic: campaign.topic ?? null,
        render: (d) => render(campaign.content, { ...scope, user: { id: d.userId, traits: d.userId ? (traits.get(d.userId) ?? {}) : {} } }, d.locale),
      },
      app,
      now,
    );
  }

  /**
   * Streams the audience into delivery requests of at most 500 targets, in bounded memory. A local-time
   * wave sends only to the devices whose time zone it covers. Before each request is handed over, `check`
   * says whether to go on: after a cancel the rest of the audience is counted as `cancelled`; a run that
   * lost its wave stops (the run holding it now sends, and the ledger drops pairs already sent).
   */
  async broadcast(app: AppRecord, campaign: CampaignDefinitionV1, messageId: string, now: Date, wave: LocalTimeWave | undefined, check: () => Promise<WaveCheck>): Promise<SendPushResultV1> {
    const plan = await this.audience.plan(app, campaign.audience, { transactional: campaign.transactional, devicePolicy: campaign.devicePolicy ?? app.settings.devicePolicy, topic: campaign.topic ?? null, now });
    let chunk: OutgoingTargetV1[] = [];
    let targeted = 0;
    let cancelled = 0;
    let n = 0;
    const flush = async () => {
      if (!chunk.length) return;
      const verdict = cancelled ? 'cancelled' : await check();
      if (verdict === 'lost') throw new CampaignError('lease_lost', 'another run holds this wave now');
      if (verdict === 'cancelled') {
        cancelled += chunk.length;
        chunk = [];
        return;
      }
      const request: DeliveryRequestV1<OutgoingTargetV1> = { requestId: randomUUID(), messageId, appId: app.id, campaignId: campaign.id, transactional: campaign.transactional, content: render(campaign.content, {}, null), targets: chunk, createdAt: now.toISOString() };
      // Keyed by chunk number so a re-run of the same broadcast lands on the same partitions.
      await this.requests.send([{ key: `${messageId}:${n++}`, request }]);
      targeted += chunk.length;
      chunk = [];
    };
    const personal = usesPlaceholders(campaign.content) || Object.keys(campaign.content.locales).length > 0;
    for await (const pair of plan.pairs) {
      if (wave && !inWave(wave, pair.device.timezone)) continue;
      if (cancelled) {
        cancelled++;
        continue;
      }
      chunk.push({
        deviceId: pair.device.id,
        token: pair.sealedToken ?? pair.device.token!,
        provider: pair.device.provider,
        userId: pair.device.userId,
        content: personal ? render(campaign.content, { user: { id: pair.user?.id ?? null, traits: pair.user?.traits ?? {} } }, pair.device.locale) : null,
        lastStatus: pair.device.lastStatus,
      });
      if (chunk.length >= MAX_TARGETS_PER_REQUEST) await flush();
    }
    await flush();
    const skipped = !wave || wave.fallback ? { ...plan.skipped() } : {};
    if (cancelled) skipped.cancelled = (skipped.cancelled ?? 0) + cancelled;
    await this.messageRecords.recordWave({ appId: app.id, messageId, campaignId: campaign.id, transactional: campaign.transactional }, wave?.dueAt ?? null, targeted, skipped);
    return { messageId, targeted, skipped };
  }

  /** What was targeted and skipped at send time over the campaign's messages; what became of each pair is delivery's. */
  async audienceStats(appId: string, campaignId: string): Promise<CampaignAudienceResult> {
    const messages = await this.messageRecords.ofCampaign(appId, campaignId);
    const skipped: Record<string, number> = {};
    let targeted = 0;
    for (const m of messages) {
      targeted += m.targeted;
      for (const [k, v] of Object.entries(m.skipped ?? {})) skipped[k] = (skipped[k] ?? 0) + v;
    }
    return { messages: messages.length, targeted, skipped };
  }

  async message(appId: string, messageId: string): Promise<MessageQueryResult> {
    const m = await this.messageRecords.message(appId, messageId);
    return { message: m ? { messageId: m.messageId, campaignId: m.campaignId, targeted: m.targeted, skipped: m.skipped ?? {}, createdAt: new Date(m.createdAt).toISOString() } : null };
  }
}

export type { DeviceView };

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
