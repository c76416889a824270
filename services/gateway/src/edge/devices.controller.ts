import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBody, ApiExtraModels, ApiHeader, ApiOperation, ApiQuery, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { Response } from 'express';
import { isUnregistered, parseWebPushSubscription } from '@pushledger/contracts';
import { FreshReads, type Freshness } from '../application/fresh-reads';
import { IdempotencyStore } from '../infrastructure/idempotency.store';
import { OwnerClient } from '../infrastructure/owner.client';
import { parseAsOf } from './as-of';
import { Access, Caller, CurrentCaller } from './auth/access';
import { requireUserHash } from './auth/user-hash';
import { validateBody } from './compat/compat-common';
import { publishSegment } from './compat/segment-ingest';
import { deviceRef, IdentifyDto, LogoutDto, LookupDeviceDto, RegisterDeviceDto } from './device.dto';
import { ApiError } from './http/api-error';
import { ApiPaged, cursorValue, linkNext, pageLimit } from './http/paging';
import { presentDevice } from './present';
import { FRESHNESS_DESCRIPTION, MIN_POSITION_HEADER, ReadFreshness, served } from './read-freshness';

/** Facts per page of a device's timeline when the client names no limit. */
const DEFAULT_EVENTS_PAGE = 100;

const attributesOf = (dto: RegisterDeviceDto) =>
  Object.fromEntries((['model', 'osVersion', 'appVersion', 'locale', 'timezone'] as const).filter((k) => dto[k] !== undefined).map((k) => [k, dto[k]]));

/** A web push token is stored as its subscription's canonical JSON, so the same subscription is always the same token and device. */
function tokenOf(dto: RegisterDeviceDto): string {
  if (dto.provider !== 'webpush') return dto.token;
  if (dto.platform !== 'web') throw ApiError.validation('platform', 'must be web for a webpush device');
  const parsed = parseWebPushSubscription(dto.token);
  if (!parsed.ok) throw ApiError.validation('token', parsed.reason);
  return parsed.token;
}

/** `POST /v1/identify` is shared with Segment's identify: a body naming a device (`deviceId` or `token`) is native. */
function isNativeIdentify(body: unknown): boolean {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const b = body as Record<string, unknown>;
  return b.deviceId !== undefined || b.token !== undefined;
}

@ApiTags('Devices')
@ApiExtraModels(IdentifyDto)
@Controller('v1')
export class DevicesController {
  constructor(
    private readonly owners: OwnerClient,
    private readonly idempotency: IdempotencyStore,
    private readonly fresh: FreshReads,
  ) {}

  @Post('devices')
  @Access('write')
  async register(@CurrentCaller() caller: Caller, @Body() dto: RegisterDeviceDto, @Headers('idempotency-key') key: string | undefined, @Res({ passthrough: true }) res: Response) {
    requireUserHash(caller, dto.userId, dto.userHash);
    const token = tokenOf(dto);
    const answer = await this.idempotency.run(caller.app.id, key, dto, async (commandId) => {
      const { view, created } = await this.owners.device(
        {
          type: 'RegisterToken',
          commandId,
          appId: caller.app.id,
          issuedAt: new Date().toISOString(),
          deviceId: dto.deviceId ?? null,
          token,
          provider: dto.provider,
          platform: dto.platform,
          attributes: attributesOf(dto),
          pushEnabled: dto.pushEnabled ?? null,
          userId: dto.userId ?? null,
        },
      );
      return { status: created ? 201 : 200, body: presentDevice(view) };
    });
    res.status(answer.status);
    return answer.body;
  }

  @Post('devices/lookup')
  @Access('server')
  @HttpCode(200)
  @ApiOperation({ summary: 'The device holding a token', description: 'The token is posted, never put in a URL. Folded from the device streams by the registration service; another app\'s token answers 404 like an unknown one.' })
  async lookup(@CurrentCaller() caller: Caller, @Body() dto: LookupDeviceDto) {
    const view = await this.owners.findDevice(caller.app.id, { token: dto.token });
    if (!view || isUnregistered(view)) throw ApiError.notFound('device');
    return presentDevice(view);
  }

  @Get('devices/:deviceId')
  @Access('server')
  @ApiOperation({ summary: 'The device', description: `${FRESHNESS_DESCRIPTION} With \`asOf\`, always folded from the store. A device whose registration was deleted (Twilio DELETE) answers 404 until a token is registered on it again; its history stays at \`/events\`.` })
  @ApiQuery({ name: 'asOf', required: false, description: 'ISO time: the device as it was then, rebuilt from its history (404 if it did not exist yet, or was unregistered then)' })
  @ApiQuery({ name: 'minPosition', required: false, description: 'Read-your-writes: wait until the read models hold this store position (see X-Pushledger-Position)' })
  @ApiHeader({ name: MIN_POSITION_HEADER, required: false, description: 'Same as `minPosition`' })
  async get(
    @CurrentCaller() caller: Caller,
    @Param('deviceId') deviceId: string,
    @ReadFreshness() freshness: Freshness,
    @Res({ passthrough: true }) res: Response,
    @Query('asOf') asOf?: string,
  ) {
    const appId = caller.app.id;
    const view =
      asOf === undefined
        ? served(
            res,
            await this.fresh.read(
              appId,
              freshness,
              (models) => models.device(appId, deviceId),
              () => this.owners.findDevice(appId, { deviceId }),
            ),
          )
        : await this.owners.findDevice(appId, { deviceId }, parseAsOf(asOf));
    // Unregistered reads as missing, from the read models and the streams alike (and as of a time it was).
    if (!view || isUnregistered(view)) throw ApiError.notFound('device');
    return presentDevice(view);
  }

  @Get('devices/:deviceId/events')
  @Access('server')
  @ApiOperation({
    summary: "The device's facts from the event store, oldest first, paged",
    description:
      'One page of `[{ type, occurredAt, data, position, revision }]` (tokens masked). When more follow, the answer has `Link: </v1/devices/{deviceId}/events?limit=N&after=CURSOR>; rel="next"`; follow it until an answer has no `Link`. ' +
      `Without \`limit\` a page holds up to ${DEFAULT_EVENTS_PAGE} facts. Another app's device id answers 404 like a missing one.`,
  })
  @ApiPaged('facts', DEFAULT_EVENTS_PAGE)
  async events(@CurrentCaller() caller: Caller, @Param('deviceId') deviceId: string, @Query('limit') limitParam: string | undefined, @Query('after') afterParam: string | undefined, @Res({ passthrough: true }) res: Response) {
    const limit = pageLimit(limitParam, DEFAULT_EVENTS_PAGE);
    const fromRevision = afterParam === undefined ? 0 : cursorValue<[number]>(afterParam, ['number'])[0];
    const page = await this.owners.deviceEvents(caller.app.id, deviceId, { fromRevision, limit });
    // A cursor only ever points at a fact that exists, so an empty page is a device with no facts (or another app's).
    if (!page.events.length) throw ApiError.notFound('device');
    linkNext(res, `/v1/devices/${encodeURIComponent(deviceId)}/events`, limit, page.next === null ? null : [page.next]);
    return page.events;
  }

  @Post('identify')
  @Access('write')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Identify: native, or Segment identify (same path)',
    description:
      'A body with `deviceId` or `token` is the native identify `{ userId, deviceId? | token?, traits? }` → the device view. Any other body is a Segment identify `{ userId, anonymousId?, traits?, context?, messageId? }` → `{ "success": true }` once durably queued; its `anonymousId` (or `context.device.id`) names the device.',
  })
  @ApiBody({ schema: { oneOf: [{ $ref: getSchemaPath(IdentifyDto) }, { type: 'object', title: 'Segment identify', properties: { userId: { type: 'string' }, anonymousId: { type: 'string' }, traits: { type: 'object' }, context: { type: 'object' }, messageId: { type: 'string' } } }] } })
  async identify(@CurrentCaller() caller: Caller, @Body() body: unknown, @Headers('idempotency-key') key: string | undefined) {
    if (!isNativeIdentify(body)) return publishSegment(this.owners, caller, [{ raw: body, type: 'identify', field: '' }]);
    const dto = await validateBody(IdentifyDto, body);
    requireUserHash(caller, dto.userId, dto.userHash);
    const answer = await this.idempotency.run(caller.app.id, key, dto, async (commandId) => {
      const issuedAt = new Date().toISOString();
      const ref = deviceRef(dto);
      const [{ view }] = await Promise.all([
        this.owners.device({ type: 'Identify', commandId, appId: caller.app.id, issuedAt, device: ref, userId: dto.userId, traits: null }),
        dto.traits && Object.keys(dto.traits).length
          ? this.owners.user({ type: 'UpdateTraits', commandId: `${commandId}-traits`, appId: caller.app.id, issuedAt, userId: dto.userId, traits: dto.traits as never })
          : Promise.resolve(null),
      ]);
      return { status: 200, body: presentDevice(view) };
    });
    return answer.body;
  }

  @Post('logout')
  @Access('write')
  @HttpCode(200)
  async logout(@CurrentCaller() caller: Caller, @Body() dto: LogoutDto, @Headers('idempotency-key') key: string | undefined) {
    const answer = await this.idempotency.run(caller.app.id, key, dto, async (commandId) => {
      const ref = deviceRef(dto);
      // The owner at receipt: a logout that arrives after someone else identified on the device changes nothing.
      const device = await this.owners.findDevice(caller.app.id, ref);
      if (!device || isUnregistered(device)) throw ApiError.notFound('device');
      const deviceId = device.id;
      const { view } = await this.owners.device({ type: 'Logout', commandId, appId: caller.app.id, issuedAt: new Date().toISOString(), device: { deviceId }, expectedOwner: device.userId });
      return { status: 200, body: presentDevice(view) };
    });
    return answer.body;
  }
}
