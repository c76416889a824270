import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { randomBytes, randomUUID } from 'crypto';
import type { PushledgerConfig } from '@pushledger/config';
import { ALL_WEBHOOK_EVENTS, WEBHOOK_EVENT_TYPES, type WebhookV1 } from '@pushledger/contracts';
import { CONFIG, sealCredential } from '@pushledger/platform';
import { OwnerClient } from '../infrastructure/owner.client';
import { Access, Caller, CurrentCaller } from './auth/access';
import { ApiError } from './http/api-error';
import { ApiPaged, creationCursor, linkNext, MAX_PAGE, pageLimit } from './http/paging';
import { CreateWebhookDto } from './webhook.dto';

/**
 * Webhook subscriptions, owned by the delivery service (which sends them). The signing secret is made
 * here, shown once, and handed on sealed: no Kafka message carries it in the clear.
 */
@ApiTags('Webhooks')
@Controller('v1/webhooks')
@Access('server')
export class WebhooksController {
  constructor(
    private readonly owners: OwnerClient,
    @Inject(CONFIG) private readonly config: PushledgerConfig,
  ) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Subscribe a URL to lifecycle facts and push outcomes', description: 'The `secret` is shown once: verify `Pushledger-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` with it.' })
  async create(@CurrentCaller() caller: Caller, @Body() dto: CreateWebhookDto) {
    let url: URL;
    try {
      url = new URL(dto.url);
    } catch {
      throw ApiError.validation('url', 'must be an absolute http or https URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw ApiError.validation('url', `must be http or https, not ${url.protocol.replace(/:$/, '')}`);
    if (url.username || url.password) throw ApiError.validation('url', 'must not carry credentials');
    const events = [...new Set(dto.events)];
    if (events.includes(ALL_WEBHOOK_EVENTS) && events.length > 1) throw ApiError.validation('events', '"*" stands alone');
    const unknown = events.findIndex((e) => e !== ALL_WEBHOOK_EVENTS && !WEBHOOK_EVENT_TYPES.includes(e));
    if (unknown >= 0) throw ApiError.validation(`events[${dto.events.indexOf(events[unknown])}]`, `unknown event type ${JSON.stringify(events[unknown]).slice(0, 80)}; one of ${WEBHOOK_EVENT_TYPES.join(', ')} or "*"`);
    const webhookId = `wh_${randomBytes(10).toString('hex')}`;
    const secret = `whsec_${randomBytes(32).toString('base64url')}`;
    const created = await this.owners.delivery<WebhookV1>({
      ...meta(caller.app.id),
      type: 'CreateWebhook',
      webhookId,
      url: url.toString(),
      events,
      secret: sealCredential(secret, 'webhook.secret', caller.app.id, this.config.secretKey),
    });
    return { ...present(created), secret };
  }

  @Get()
  @ApiOperation({
    summary: "The app's webhooks, oldest first, paged",
    description:
      'A webhook disabled after a day of failed deliveries shows `disabledAt` and `disabledReason`. ' +
      `Without \`limit\` a page holds up to ${MAX_PAGE} webhooks; when more follow, \`Link: </v1/webhooks?limit=N&after=CURSOR>; rel="next"\`.`,
  })
  @ApiPaged('webhooks', MAX_PAGE)
  async list(@CurrentCaller() caller: Caller, @Query('limit') limitParam: string | undefined, @Query('after') afterParam: string | undefined, @Res({ passthrough: true }) res: Response) {
    const limit = pageLimit(limitParam, MAX_PAGE);
    const page = await this.owners.webhooks(caller.app.id, { limit, after: creationCursor(afterParam) });
    linkNext(res, '/v1/webhooks', limit, page.next);
    return page.items.map(present);
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@CurrentCaller() caller: Caller, @Param('id') id: string): Promise<void> {
    await this.owners.delivery({ ...meta(caller.app.id), type: 'DeleteWebhook', webhookId: id });
  }
}

function meta(appId: string) {
  return { commandId: randomUUID(), appId, issuedAt: new Date().toISOString() };
}

function present(w: WebhookV1) {
  return { id: w.id, url: w.url, events: w.events, createdAt: w.createdAt, disabledAt: w.disabledAt, disabledReason: w.disabledReason };
}
