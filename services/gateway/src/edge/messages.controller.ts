import { Body, Controller, Get, Headers, HttpCode, Param, Post } from '@nestjs/common';
import { randomUUID } from 'crypto';
import { deterministicUuid, type PushTarget } from '@pushledger/contracts';
import { MessageOutcomesStore } from '@pushledger/messages';
import { OwnerClient } from '../infrastructure/owner.client';
import { Access, Caller, CurrentCaller } from './auth/access';
import { ApiError } from './http/api-error';
import { PushDto, ReceiptDto } from './push.dto';

function targetOf(dto: PushDto): PushTarget {
  const named = (['userId', 'deviceId', 'token'] as const).filter((k) => dto.to[k] !== undefined);
  if (named.length !== 1) throw ApiError.validation('to', 'name exactly one of userId, deviceId, token');
  const k = named[0];
  return { [k]: dto.to[k]! } as PushTarget;
}

function dataOf(dto: PushDto): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(dto.data ?? {})) {
    if (typeof v !== 'string') throw ApiError.validation(`data.${k}`, 'values must be strings (FCM data payloads are string maps)');
    out[k] = v;
  }
  return out;
}

@Controller('v1')
export class MessagesController {
  constructor(
    private readonly owners: OwnerClient,
    private readonly outcomes: MessageOutcomesStore,
  ) {}

  @Post('push')
  @Access('server')
  @HttpCode(202)
  async push(@CurrentCaller() caller: Caller, @Body() dto: PushDto, @Headers('idempotency-key') header: string | undefined) {
    const to = targetOf(dto);
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
      content: { title: dto.notification.title, body: dto.notification.body, imageUrl: dto.notification.imageUrl ?? null, data: dataOf(dto) },
      transactional: dto.transactional ?? false,
      devicePolicy: dto.devicePolicy ?? null,
    });
  }

  @Get('messages/:messageId')
  @Access('server')
  async get(@CurrentCaller() caller: Caller, @Param('messageId') messageId: string) {
    const message = await this.outcomes.message(caller.app.id, messageId);
    if (!message) throw ApiError.notFound('message');
    const rows = await this.outcomes.outcomesOf(caller.app.id, messageId);
    return rows.map((r) => ({ deviceId: r.deviceId, outcome: r.outcome, ...(r.reason ? { reason: r.reason } : {}), ...(r.deliveredAt ? { deliveredAt: r.deliveredAt } : {}), ...(r.openedAt ? { openedAt: r.openedAt } : {}) }));
  }

  @Post('messages/:messageId/receipts')
  @Access('write')
  @HttpCode(202)
  async receipt(@CurrentCaller() caller: Caller, @Param('messageId') messageId: string, @Body() dto: ReceiptDto) {
    if (!(await this.outcomes.hasPair(caller.app.id, messageId, dto.deviceId))) throw ApiError.notFound('message');
    const at = dto.at ?? new Date().toISOString();
    if (Number.isNaN(Date.parse(at))) throw ApiError.validation('at', 'must be an ISO-8601 time');
    await this.owners.publish(this.owners.topics.receipts, [{ key: `${messageId}:${dto.deviceId}`, value: JSON.stringify({ appId: caller.app.id, messageId, deviceId: dto.deviceId, kind: dto.kind, at }) }]);
    return { accepted: true };
  }
}
