import { Body, Controller, Delete, Headers, HttpCode, Param, Put } from '@nestjs/common';
import { ApiBasicAuth, ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { DeviceAttributesPatch } from '@pushledger/contracts';
import { IdempotencyStore } from '../../infrastructure/idempotency.store';
import { OwnerClient } from '../../infrastructure/owner.client';
import { Access, Caller, CurrentCaller } from '../auth/access';
import { requireUserHash, USER_HASH_HEADER } from '../auth/user-hash';
import { ApiError } from '../http/api-error';
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
          provider: device.platform === 'ios' ? 'apns' : 'fcm',
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
