import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { randomUUID } from 'crypto';
import { canonicalToken, deterministicUuid, type MessageOutcomeV1, type PushTarget } from '@pushledger/contracts';
import { OwnerClient } from '../infrastructure/owner.client';
import { Access, Caller, CurrentCaller } from './auth/access';
import { ApiError } from './http/api-error';
import { ApiPaged, cursorValue, linkNext, MAX_PAGE, pageLimit } from './http/paging';
import { pushContentOf, stringData } from './push-content';
import { PushDto, ReceiptDto } from './push.dto';

function targetOf(dto: PushDto): PushTarget {
  const named = (['userId', 'deviceId', 'token'] as const).filter((k) => dto.to[k] !== undefined);
  if (named.length !== 1) throw ApiError.validation('to', 'name exactly one of userId, deviceId, token');
  const k = named[0];
  if (k === 'token') return { token: canonicalToken(dto.to.token!) };
  return { [k]: dto.to[k]! } as PushTarget;
}


@Controller('v1')
export class MessagesController {
  constructor(private readonly owners: OwnerClient) {}

  @Post('push')
  @Access('server')
  @HttpCode(202)
  async push(@CurrentCaller() caller: Caller, @Body() dto: PushDto, @Headers('idempotency-key') header: string | undefined) {
    const to = targetOf(dto);
    const content = pushContentOf({ notification: dto.notification ?? null, data: stringData(dto.data, 'data'), options: dto.options }, { notification: 'notification', data: 'data', options: 'options' });
    const key = dto.idempotencyKey ?? header;
    // The key fixes the message id, so a retried push is one message: delivery sends each (message, device) once.
    const messageId = key ? deterministicUuid(`push:${caller.app.id}:${key}`) : randomUUID();
    return this.owners.push({
      type: 'SendPush',
      commandId: messageId,
      appId: caller.app.id,
      issuedAt: new Date().toISOString(),
      messageId,
      to,
      content,
      transactional: dto.transactional ?? false,
      devicePolicy: dto.devicePolicy ?? null,
      topic: dto.topic ?? null,
    });
  }

  /**
   * A page of the message's outcomes (the documented array), in device id order. The next page's address is
   * in `Link: <…?limit=&after=>; rel="next"`, absent on the last page. The default limit is the largest, so a
   * client that does not page still gets every outcome of a message to up to 1,000 devices in one answer.
   */
  @Get('messages/:messageId')
  @Access('server')
  @ApiTags('messages')
  @ApiOperation({
    summary: 'Per-device outcomes of a message, paged',
    description:
      'Answers the documented array `[{ deviceId, outcome, reason?, deliveredAt?, openedAt? }]`: one page of the outcomes, in device id order. ' +
      'When more follow, the answer has `Link: </v1/messages/{messageId}?limit=N&after=CURSOR>; rel="next"`; follow it until an answer has no `Link`. ' +
      'Every outcome recorded before the first request appears exactly once across the pages. The cursor is opaque. ' +
      'Without `limit` a page holds up to 1,000 outcomes, so clients that do not page keep working for messages to up to 1,000 devices. ' +
      'Another app\'s message id answers 404 like a missing one.',
  })
  @ApiPaged('outcomes', MAX_PAGE)
  @ApiOkResponse({ description: 'one page of outcomes (array)' })
  @ApiNotFoundResponse({ description: 'no such message for this app' })
  async get(@CurrentCaller() caller: Caller, @Param('messageId') messageId: string, @Query('limit') limitParam: string | undefined, @Query('after') afterParam: string | undefined, @Res({ passthrough: true }) res: Response) {
    const limit = pageLimit(limitParam, MAX_PAGE);
    const after = afterParam === undefined ? null : cursorValue<[string]>(afterParam, ['string'])[0];
    const page = await this.owners.messageOutcomes(caller.app.id, messageId, limit, after);
    // The ledger answers by app too, so an empty page is either a message with no outcome yet or none of this app's.
    if (!page.outcomes.length && !(await this.owners.message(caller.app.id, messageId))) throw ApiError.notFound('message');
    linkNext(res, `/v1/messages/${encodeURIComponent(messageId)}`, limit, page.next ? [page.next] : null);
    return page.outcomes.map(present);
  }

  /** Counts from the sender's record and the ledger's counters: the same cost at any audience size. */
  @Get('messages/:messageId/stats')
  @Access('server')
  @ApiTags('messages')
  @ApiOperation({
    summary: 'Counts of a message',
    description: '`{ messageId, campaignId, targeted, skipped: {reason: n}, sent, bounced, invalidated, failed, delivered, opened }`: targeted and skipped as recorded at send time, the rest kept with the outcomes (constant-time read). `skipped.cancelled` of a cancelled campaign send counts the devices never handed to delivery and those delivery stopped before sending (these are in `targeted` too).',
  })
  async stats(@CurrentCaller() caller: Caller, @Param('messageId') messageId: string) {
    const [message, counters] = await Promise.all([this.owners.message(caller.app.id, messageId), this.owners.messageCounters(caller.app.id, messageId)]);
    if (!message) throw ApiError.notFound('message');
    return {
      messageId,
      campaignId: message.campaignId,
      targeted: message.targeted,
      skipped: withStoppedByDelivery(message.skipped, counters?.skippedByReason.cancelled ?? 0),
      sent: counters?.sent ?? 0,
      bounced: counters?.bounced ?? 0,
      invalidated: counters?.invalidated ?? 0,
      failed: counters?.failed ?? 0,
      delivered: counters?.delivered ?? 0,
      opened: counters?.opened ?? 0,
    };
  }

  @Post('messages/:messageId/receipts')
  @Access('write')
  @HttpCode(202)
  async receipt(@CurrentCaller() caller: Caller, @Param('messageId') messageId: string, @Body() dto: ReceiptDto) {
    const at = dto.at ?? new Date().toISOString();
    if (Number.isNaN(Date.parse(at))) throw ApiError.validation('at', 'must be an ISO-8601 time');
    if (!(await this.owners.outcome(caller.app.id, messageId, dto.deviceId))) throw ApiError.notFound('message');
    await this.owners.publish(this.owners.topics.receipts, [{ key: `${messageId}:${dto.deviceId}`, value: { appId: caller.app.id, messageId, deviceId: dto.deviceId, kind: dto.kind, at } }]);
    return { accepted: true };
  }
}

function present(o: MessageOutcomeV1) {
  return { deviceId: o.deviceId, outcome: o.outcome, ...(o.reason ? { reason: o.reason } : {}), ...(o.deliveredAt ? { deliveredAt: o.deliveredAt } : {}), ...(o.openedAt ? { openedAt: o.openedAt } : {}) };
}

/** A cancelled send's devices that delivery stopped were targeted at send time; the cancel skipped them later. */
function withStoppedByDelivery(skipped: Record<string, number>, stopped: number): Record<string, number> {
  return stopped ? { ...skipped, cancelled: (skipped.cancelled ?? 0) + stopped } : skipped;
}
