import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiOperation } from '@nestjs/swagger';
import type { Response } from 'express';
import { randomBytes, randomUUID } from 'crypto';
import { deterministicUuid, type CampaignDefinitionV1, type OutcomeCountersV1, type PushTarget } from '@pushledger/contracts';
import { CampaignsStore } from '@pushledger/messages';
import { OwnerClient, OwnerUnavailableError } from '../infrastructure/owner.client';
import { Access, Caller, CurrentCaller } from './auth/access';
import { ApiError } from './http/api-error';
import { creationCursor, linkNext, pageLimit } from './http/paging';
import { invalidPlaceholders, render } from '@pushledger/messages';
import type { Freshness } from '../application/fresh-reads';
import { UserReads } from '../application/user-reads';
import { CreateCampaignDto, PreviewCampaignDto, SendCampaignDto, type CampaignContentDto } from './campaign.dto';
import { FRESHNESS_DESCRIPTION, ReadFreshness, served } from './read-freshness';
import { pushContentOf, stringData } from './push-content';

@Controller('v1/campaigns')
@Access('server')
export class CampaignsController {
  constructor(
    private readonly owners: OwnerClient,
    private readonly campaigns: CampaignsStore,
    private readonly reads: UserReads,
  ) {}

  @Post()
  @HttpCode(201)
  async create(@CurrentCaller() caller: Caller, @Body() dto: CreateCampaignDto, @Headers('idempotency-key') key: string | undefined) {
    if (dto.kind === 'triggered' && !dto.trigger) throw ApiError.validation('trigger', 'a triggered campaign needs a trigger');
    if (dto.kind !== 'triggered' && dto.trigger) throw ApiError.validation('trigger', 'only a triggered campaign has a trigger');
    if (dto.trigger?.to && dto.trigger.to.kind !== 'user' && !dto.trigger.to.property) throw ApiError.validation('trigger.to.property', 'names the event property holding the token or device id');
    if (dto.schedule && dto.kind !== 'broadcast') throw ApiError.validation('schedule', 'only a broadcast is scheduled');
    if (dto.audience?.segmentId && dto.audience.rules) throw ApiError.validation('audience', 'give segmentId or rules, not both');
    const c = dto.content;
    if (c.dataOnly) {
      const shown = (['title', 'body', 'imageUrl', 'sound', 'badge', 'link', 'locales'] as const).find((k) => c[k] !== undefined && c[k] !== '');
      if (shown) throw ApiError.validation(`content.${shown}`, 'a data-only campaign shows nothing: leave it out, or dataOnly out');
    } else if (typeof c.title !== 'string' || !c.title) {
      throw ApiError.validation('content.title', 'is required (or set content.dataOnly for a data-only campaign)');
    }
    // Checked on the content before placeholders are filled in: a user's traits can still make one recipient's push larger.
    const checked = pushContentOf(
      { notification: c.dataOnly ? null : { title: c.title, body: c.body ?? '', imageUrl: c.imageUrl, sound: c.sound, badge: c.badge, link: c.link }, data: stringData(c.data, 'content.data'), options: c.options },
      { notification: 'content', data: 'content.data', options: 'content.options' },
    );
    checkTexts(dto.content);
    const id = key ? `cmp_${deterministicUuid(`campaign:${caller.app.id}:${key}`).replace(/-/g, '').slice(0, 20)}` : `cmp_${randomBytes(10).toString('hex')}`;
    const campaign: CampaignDefinitionV1 = {
      id,
      appId: caller.app.id,
      name: dto.name,
      kind: dto.kind,
      audience: dto.audience?.segmentId ? { segmentId: dto.audience.segmentId } : dto.audience?.rules ? { rules: dto.audience.rules } : null,
      trigger: dto.trigger ? { event: dto.trigger.event, where: dto.trigger.where ?? {}, to: dto.trigger.to?.kind === 'token' || dto.trigger.to?.kind === 'device' ? { kind: dto.trigger.to.kind, property: dto.trigger.to.property! } : { kind: 'user' } } : null,
      content: { ...checked, locales: c.dataOnly ? {} : (c.locales ?? {}) },
      transactional: dto.kind === 'transactional' ? true : (dto.transactional ?? false),
      devicePolicy: dto.devicePolicy ?? null,
      topic: dto.topic ?? null,
      schedule: dto.schedule ? { at: new Date(dto.schedule.at).toISOString(), localTime: dto.schedule.localTime ?? false } : null,
      createdAt: new Date().toISOString(),
    };
    const created = await this.owners.campaign({ type: 'CreateCampaign', commandId: randomUUID(), appId: caller.app.id, issuedAt: new Date().toISOString(), campaign });
    return present(created as CampaignDefinitionV1);
  }

  /**
   * The content as each of the user's devices would get it: the sender's own rendering (placeholders, the
   * device's locale), so a preview cannot differ from the push.
   */
  @Post('preview')
  @HttpCode(200)
  @ApiOperation({ summary: "Content rendered for one user, per device, as a send would render it (their traits in the placeholders, each device's locale)", description: FRESHNESS_DESCRIPTION })
  async preview(@CurrentCaller() caller: Caller, @Body() dto: PreviewCampaignDto, @ReadFreshness() freshness: Freshness, @Res({ passthrough: true }) res: Response) {
    checkTexts(dto.content);
    const appId = caller.app.id;
    const user = served(res, await this.reads.user(appId, dto.userId, freshness));
    if (!user) throw ApiError.notFound('user');
    const devices = (await this.reads.devices(appId, dto.userId, freshness)).value ?? [];
    const content = { title: dto.content.title ?? '', body: dto.content.body ?? '', imageUrl: dto.content.imageUrl ?? null, locales: dto.content.locales ?? {} };
    const scope = { user: { id: user.id, traits: user.traits } };
    const shown = (locale: string | null) => {
      const { title, body, imageUrl } = render(content, scope, locale);
      return { locale, title, body, imageUrl };
    };
    return { userId: user.id, content: shown(null), devices: devices.map((d) => ({ deviceId: d.id, platform: d.platform, ...shown(d.locale ?? null) })) };
  }

  /** 202 once the send is recorded; a broadcast's progress and counts are in `GET /v1/campaigns/{id}` (Location). */
  @Post(':id/send')
  @HttpCode(202)
  async send(@CurrentCaller() caller: Caller, @Param('id') id: string, @Body() dto: SendCampaignDto, @Headers('idempotency-key') header: string | undefined, @Res({ passthrough: true }) res: Response) {
    const key = dto.idempotencyKey ?? header;
    const messageId = key ? deterministicUuid(`campaign-send:${caller.app.id}:${id}:${key}`) : randomUUID();
    let to: PushTarget | null = null;
    if (dto.to) {
      const named = (['userId', 'deviceId', 'token'] as const).filter((k) => dto.to![k] !== undefined);
      if (named.length !== 1) throw ApiError.validation('to', 'name exactly one of userId, deviceId, token');
      to = { [named[0]]: dto.to[named[0]]! } as PushTarget;
    }
    res.setHeader('Location', `/v1/campaigns/${encodeURIComponent(id)}`);
    return this.owners.campaign({ type: 'SendCampaign', commandId: messageId, appId: caller.app.id, issuedAt: new Date().toISOString(), campaignId: id, messageId, to, properties: dto.properties ?? {} });
  }

  /** Newest first; `Link: <…?limit=N&after=CURSOR>; rel="next"` while more follow. */
  @Get()
  async list(@CurrentCaller() caller: Caller, @Query('limit') limitParam: string | undefined, @Query('after') afterParam: string | undefined, @Res({ passthrough: true }) res: Response) {
    const limit = pageLimit(limitParam, DEFAULT_PAGE);
    const after = creationCursor(afterParam);
    const page = await this.campaigns.list(caller.app.id, limit + 1, after ? { createdAt: after[0], id: after[1] } : undefined);
    const shown = page.slice(0, limit);
    const last = shown[shown.length - 1];
    linkNext(res, '/v1/campaigns', limit, page.length > limit ? [last.createdAt, last.id] : null);
    return shown.map(present);
  }

  @Post(':id/sends/:messageId/cancel')
  @HttpCode(200)
  async cancel(@CurrentCaller() caller: Caller, @Param('id') id: string, @Param('messageId') messageId: string) {
    // What delivery has finished, so a send whose waves are all targeted can still be cancelled while a quota paces it.
    // Delivery out of reach: unknown, and the send counts as finished once targeted (a scheduled one still cancels).
    const deliveryFinished = await this.owners.messageCounters(caller.app.id, messageId).then(finishedPairs, (err: unknown) => {
      if (err instanceof OwnerUnavailableError) return undefined;
      throw err;
    });
    return this.owners.campaign({ type: 'CancelCampaignSend', commandId: randomUUID(), appId: caller.app.id, issuedAt: new Date().toISOString(), campaignId: id, messageId, deliveryFinished });
  }

  @Get(':id')
  async get(@CurrentCaller() caller: Caller, @Param('id') id: string) {
    const campaign = await this.campaigns.get(caller.app.id, id);
    if (!campaign) throw ApiError.notFound('campaign');
    // Send-time counts from the campaign service, outcome counters from delivery's ledger: no count over outcomes.
    const [audience, outcomes] = await Promise.all([this.owners.campaignAudience(caller.app.id, id), this.owners.campaignCounters(caller.app.id, id)]);
    const sends = await this.campaigns.sendsOf(caller.app.id, id);
    return {
      ...present(campaign),
      sends: sends.map((s) => ({ messageId: s.messageId, ...(s.wave ? { wave: s.wave } : {}), status: s.status, dueAt: s.dueAt, startedAt: s.startedAt ?? null, finishedAt: s.finishedAt ?? null, runs: s.runs ?? 0, targeted: s.targeted, skipped: s.skipped, ...(s.error ? { error: s.error } : {}) })),
      stats: { messages: audience.messages, targeted: audience.targeted, skipped: audience.skipped, sent: outcomes.sent, bounced: outcomes.bounced, invalidated: outcomes.invalidated, failed: outcomes.failed, delivered: outcomes.delivered, opened: outcomes.opened },
    };
  }
}

function present(c: CampaignDefinitionV1) {
  return { id: c.id, name: c.name, kind: c.kind, audience: c.audience, trigger: c.trigger, content: c.content, transactional: c.transactional, devicePolicy: c.devicePolicy, topic: c.topic ?? null, schedule: c.schedule, createdAt: c.createdAt };
}

const DEFAULT_PAGE = 100;

function finishedPairs(counters: OutcomeCountersV1 | null): number {
  return counters ? counters.sent + counters.bounced + counters.invalidated + counters.failed + counters.skipped : 0;
}

/** Every text of the content is a string whose placeholders the sender fills in, or a 400 naming it. */
function checkTexts(content: CampaignContentDto): void {
  const texts = { 'content.title': content.title ?? '', 'content.body': content.body ?? '', ...Object.fromEntries(Object.entries(content.locales ?? {}).flatMap(([l, c]) => [[`content.locales.${l}.title`, c?.title ?? ''], [`content.locales.${l}.body`, c?.body ?? '']])) };
  for (const [field, text] of Object.entries(texts)) {
    if (typeof text !== 'string') throw ApiError.validation(field, 'must be a string');
    const bad = invalidPlaceholders(text);
    if (bad.length) throw ApiError.validation(field, `unknown placeholder ${bad[0]}: use {{user.traits.x}}, {{user.id}}, {{event.properties.y}} or {{event.name}}`);
  }
}
