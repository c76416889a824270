import { Body, Controller, Delete, Get, Headers, Param, Patch, Query, Res } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiQuery } from '@nestjs/swagger';
import type { Response } from 'express';
import { IsBoolean, IsObject, IsOptional } from 'class-validator';
import { MAX_TOPICS_PER_USER, TOPIC_NAME, type UserView } from '@pushledger/contracts';
import type { Freshness } from '../application/fresh-reads';
import { UserReads } from '../application/user-reads';
import { IdempotencyStore } from '../infrastructure/idempotency.store';
import { OwnerClient } from '../infrastructure/owner.client';
import { parseAsOf } from './as-of';
import { Access, Caller, CurrentCaller } from './auth/access';
import { ApiError } from './http/api-error';
import { presentDevice, presentExport, presentUser } from './present';
import { FRESHNESS_DESCRIPTION, MIN_POSITION_HEADER, ReadFreshness, served } from './read-freshness';

export class PatchUserDto {
  @IsOptional()
  @IsObject()
  traits?: Record<string, unknown>;

  @IsOptional()
  @IsBoolean()
  unsubscribed?: boolean;

  /** `{ "<topic>": true|false }`: false turns the topic off; topics not named keep their setting. */
  @IsOptional()
  @IsObject()
  topics?: Record<string, unknown>;
}

/** Topic settings as the user stream takes them, or a 400 naming the bad topic. */
export function topicsOf(topics: Record<string, unknown>, field: string): Record<string, boolean> {
  const entries = Object.entries(topics);
  if (entries.length > MAX_TOPICS_PER_USER) throw ApiError.validation(field, `at most ${MAX_TOPICS_PER_USER} topics`);
  for (const [name, on] of entries) {
    if (!TOPIC_NAME.test(name)) throw ApiError.validation(`${field}.${name}`, 'a topic name is 1 to 64 letters, digits, _ or -');
    if (typeof on !== 'boolean') throw ApiError.validation(`${field}.${name}`, 'must be true (subscribed) or false (unsubscribed)');
  }
  return topics as Record<string, boolean>;
}

@Controller('v1/users')
@Access('server')
export class UsersController {
  constructor(
    private readonly owners: OwnerClient,
    private readonly idempotency: IdempotencyStore,
    private readonly reads: UserReads,
  ) {}

  @Get(':userId')
  @ApiOperation({ summary: 'The user', description: `${FRESHNESS_DESCRIPTION} With \`asOf\`, always folded from the user's stream by the identity service.` })
  @ApiQuery({ name: 'asOf', required: false, description: 'ISO time: the user as they were then, rebuilt from their history (404 if unknown then); erased data stays erased' })
  @ApiQuery({ name: 'minPosition', required: false, description: 'Read-your-writes: wait until the read models hold this store position (see X-Pushledger-Position)' })
  @ApiHeader({ name: MIN_POSITION_HEADER, required: false, description: 'Same as `minPosition`' })
  async get(@CurrentCaller() caller: Caller, @Param('userId') userId: string, @ReadFreshness() freshness: Freshness, @Res({ passthrough: true }) res: Response, @Query('asOf') asOf?: string) {
    const appId = caller.app.id;
    if (asOf === undefined) {
      const view = served(res, await this.reads.user(appId, userId, freshness));
      if (!view) throw ApiError.notFound('user');
      return presentUser(view);
    }
    const then = await this.owners.findUser(appId, userId, parseAsOf(asOf));
    if (!then) throw ApiError.notFound('user');
    return presentUser(then);
  }

  @Get(':userId/devices')
  @ApiOperation({ summary: "The user's devices", description: FRESHNESS_DESCRIPTION })
  @ApiQuery({ name: 'minPosition', required: false, description: 'Read-your-writes: wait until the read models hold this store position (see X-Pushledger-Position)' })
  @ApiHeader({ name: MIN_POSITION_HEADER, required: false, description: 'Same as `minPosition`' })
  async listDevices(@CurrentCaller() caller: Caller, @Param('userId') userId: string, @ReadFreshness() freshness: Freshness, @Res({ passthrough: true }) res: Response) {
    const appId = caller.app.id;
    const views = served(res, await this.reads.devices(appId, userId, freshness));
    if (!views) throw ApiError.notFound('user');
    return views.map(presentDevice);
  }

  @Patch(':userId')
  async patch(@CurrentCaller() caller: Caller, @Param('userId') userId: string, @Body() dto: PatchUserDto, @Headers('idempotency-key') key: string | undefined) {
    if (dto.traits === undefined && dto.unsubscribed === undefined && dto.topics === undefined) throw ApiError.validation('traits', 'traits, unsubscribed or topics is required');
    const topics = dto.topics === undefined ? undefined : topicsOf(dto.topics, 'topics');
    const answer = await this.idempotency.run(caller.app.id, key, { userId, dto }, async (commandId) => {
      const base = { appId: caller.app.id, issuedAt: new Date().toISOString(), userId };
      let view: UserView | undefined;
      if (dto.traits !== undefined) view = await this.owners.user({ ...base, commandId: `${commandId}-traits`, type: 'UpdateTraits', traits: dto.traits as never });
      if (dto.unsubscribed !== undefined) view = await this.owners.user({ ...base, commandId: `${commandId}-subscription`, type: dto.unsubscribed ? 'Unsubscribe' : 'Resubscribe' });
      if (topics !== undefined) view = await this.owners.user({ ...base, commandId: `${commandId}-topics`, type: 'ChangeTopics', topics });
      return { status: 200, body: presentUser(view!) };
    });
    return answer.body;
  }

  @Delete(':userId')
  async erase(@CurrentCaller() caller: Caller, @Param('userId') userId: string, @Headers('idempotency-key') key: string | undefined) {
    const answer = await this.idempotency.run(caller.app.id, key, { erase: userId }, async (commandId) => {
      const view = await this.owners.user({ type: 'EraseUser', commandId, appId: caller.app.id, issuedAt: new Date().toISOString(), userId });
      return { status: 200, body: { id: view.id, erased: true } };
    });
    return answer.body;
  }

  /** Everything stored about the user, decrypted: view, user stream, and each device they have or had (other people's pii left out). */
  @Get(':userId/export')
  async export(@CurrentCaller() caller: Caller, @Param('userId') userId: string) {
    const found = await this.owners.exportUser(caller.app.id, userId);
    if (!found) throw ApiError.notFound('user');
    return presentExport(found);
  }
}
