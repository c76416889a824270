import { Body, Controller, Delete, Headers, HttpCode, Param, Put } from '@nestjs/common';
import { ApiBasicAuth, ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { providerOfToken, type DeviceAttributesPatch } from '@pushledger/contracts';
import { IdempotencyStore } from '../../infrastructure/idempotency.store';
import { OwnerClient } from '../../infrastructure/owner.client';
import { Access, Caller, CurrentCaller } from '../auth/access';
import { requireUserHash, USER_HASH_HEADER } from '../auth/user-hash';
import { ApiError } from '../http/api-error';
import { topicsOf } from '../users.controller';
import { MAX_TOKEN, pathId, viewOr404 } from './compat-common';
import { CioDeviceAttributesDto, CioPutDeviceDto } from './customerio.dto';

const EMPTY = { schema: { type: 'object', example: {} } };

function attributesOf(a: CioDeviceAttributesDto | undefined): DeviceAttributesPatch {
  const out: DeviceAttributesPatch = {};
  if (a?.device_model !== undefined) out.model = a.device_model;
  if (a?.device_os !== undefined) out.osVersion = a.device_os;
  if (a?.app_version !== undefined) out.appVersion = a.app_version;
  if (a?.device_locale !== undefined) out.locale = a.device_locale;
  return out;
}

/**
 * Customer.io Track API devices. Auth is Basic `siteId:apiKey` (site id = app id, API key = a key of
 * that app). `ios` tokens are taken as APNs tokens, `android` as FCM.
 */
@ApiTags('Customer.io Track API')
@ApiBasicAuth()
@Controller('api/v1/customers')
export class CustomerIoController {
  constructor(
    private readonly owners: OwnerClient,
    private readonly idempotency: IdempotencyStore,
  ) {}

  @Put(':id')
  @Access('write')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Customer.io: add or update a person',
    description:
      'Attributes become the user\'s traits, except: `unsubscribed` (true/false) is the global unsubscribe; `cio_subscription_preferences` ' +
      '`{ "topics": { "topic_1": true|false } }` (or the flattened `"cio_subscription_preferences.topics.topic_1": false`) sets subscription topics, ' +
      'named as Customer.io names them (`topic_<n>`), the same topics a push\'s `topic` names. `id`, `email` stay traits.',
  })
  @ApiOkResponse(EMPTY)
  @ApiHeader({ name: 'X-User-Hash', required: false, description: 'with identityVerification on, a write key proves the user of the path' })
  async identify(@CurrentCaller() caller: Caller, @Param('id') id: string, @Body() body: Record<string, unknown>, @Headers('idempotency-key') key: string | undefined, @Headers(USER_HASH_HEADER) userHash: string | undefined) {
    const userId = pathId(id, 'id');
    requireUserHash(caller, userId, userHash);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw ApiError.validation('body', 'must be an object of attributes');
    const { traits, unsubscribed, topics } = cioAttributes(body);
    const answer = await this.idempotency.run(caller.app.id, key, { customerioIdentify: userId, body }, async (commandId) => {
      const base = { appId: caller.app.id, issuedAt: new Date().toISOString(), userId };
      if (Object.keys(traits).length) await this.owners.user({ ...base, commandId: `${commandId}-traits`, type: 'UpdateTraits', traits: traits as never });
      if (unsubscribed !== undefined) await this.owners.user({ ...base, commandId: `${commandId}-subscription`, type: unsubscribed ? 'Unsubscribe' : 'Resubscribe' });
      if (Object.keys(topics).length) await this.owners.user({ ...base, commandId: `${commandId}-topics`, type: 'ChangeTopics', topics });
      return { status: 200, body: {} };
    });
    return answer.body;
  }

  @Put(':id/devices')
  @Access('write')
  @HttpCode(200)
  @ApiOperation({ summary: 'Customer.io: add or update a device of a person', description: 'Registers the token (`device.id`; the device id derives from it) and identifies it as the person. `attributes` device_os, device_model, app_version, device_locale and push_enabled are kept; others are dropped.' })
  @ApiOkResponse(EMPTY)
  @ApiHeader({ name: 'X-User-Hash', required: false, description: 'with identityVerification on, a write key proves the user of the path: hex HMAC-SHA256(userId, identitySecret); else 401 user_hash_invalid' })
  async put(
    @CurrentCaller() caller: Caller,
    @Param('id') id: string,
    @Body() dto: CioPutDeviceDto,
    @Headers('idempotency-key') key: string | undefined,
    @Headers(USER_HASH_HEADER) userHash: string | undefined,
  ) {
    const userId = pathId(id, 'id');
    requireUserHash(caller, userId, userHash);
    const answer = await this.idempotency.run(caller.app.id, key, { customerio: userId, dto }, async (commandId) => {
      const { device } = dto;
      const enabled = device.attributes?.push_enabled;
      await this.owners.device(
        {
          type: 'RegisterToken',
          commandId,
          appId: caller.app.id,
          issuedAt: new Date().toISOString(),
          deviceId: null,
          token: device.id,
          provider: providerOfToken(device.id, device.platform),
          platform: device.platform,
          attributes: attributesOf(device.attributes),
          pushEnabled: enabled === undefined ? null : enabled === true || enabled === 'true',
          userId,
        },
      );
      return { status: 200, body: {} };
    });
    return answer.body;
  }

  @Delete(':id/devices/:token')
  @Access('write')
  @HttpCode(200)
  @ApiOperation({ summary: 'Customer.io: remove a device from a person', description: 'clearIdentify: the device is disassociated from the person when it belongs to them (else nothing changes). 404 when the token is unknown.' })
  @ApiOkResponse(EMPTY)
  async remove(@CurrentCaller() caller: Caller, @Param('id') id: string, @Param('token') token: string, @Headers('idempotency-key') key: string | undefined) {
    const userId = pathId(id, 'id');
    if (token.length > MAX_TOKEN) throw ApiError.validation('token', `must be at most ${MAX_TOKEN} characters`);
    const answer = await this.idempotency.run(caller.app.id, key, { customerioDelete: userId, token }, async (commandId) => {
      const deviceId = (await viewOr404(this.owners, caller.app.id, { token })).id;
      await this.owners.device({ type: 'Logout', commandId, appId: caller.app.id, issuedAt: new Date().toISOString(), device: { deviceId }, expectedOwner: userId });
      return { status: 200, body: {} };
    });
    return answer.body;
  }
}

const PREFS = 'cio_subscription_preferences';

/** Splits a Customer.io person's attributes into traits, the global unsubscribe and topic settings (400 naming a bad one). */
function cioAttributes(body: Record<string, unknown>): { traits: Record<string, unknown>; unsubscribed: boolean | undefined; topics: Record<string, boolean> } {
  const traits: Record<string, unknown> = {};
  const topics: Record<string, unknown> = {};
  let unsubscribed: boolean | undefined;
  for (const [k, v] of Object.entries(body)) {
    if (k === 'unsubscribed') {
      if (typeof v !== 'boolean' && v !== 'true' && v !== 'false') throw ApiError.validation('unsubscribed', 'must be true or false');
      unsubscribed = v === true || v === 'true';
    } else if (k === PREFS) {
      const prefs = v as { topics?: unknown } | null;
      if (typeof prefs !== 'object' || prefs === null || (prefs.topics !== undefined && (typeof prefs.topics !== 'object' || prefs.topics === null))) {
        throw ApiError.validation(PREFS, 'must be { "topics": { "<topic>": true|false } }');
      }
      Object.assign(topics, prefs.topics ?? {});
    } else if (k.startsWith(`${PREFS}.topics.`)) {
      topics[k.slice(`${PREFS}.topics.`.length)] = v;
    } else {
      traits[k] = v;
    }
  }
  return { traits, unsubscribed, topics: topicsOf(topics, `${PREFS}.topics`) };
}
