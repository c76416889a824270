import { Body, Controller, Headers, HttpCode, Param, Patch } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { providerOfToken } from '@pushledger/contracts';
import { IdempotencyStore } from '../../infrastructure/idempotency.store';
import { OwnerClient } from '../../infrastructure/owner.client';
import { Access, Caller, CurrentCaller } from '../auth/access';
import { requireUserHash, USER_HASH_HEADER } from '../auth/user-hash';
import { presentDevice } from '../present';
import { pathId } from './compat-common';
import { MasivoDeviceTokenDto } from './masivo.dto';

/** Masivo's device-token endpoint: the token is registered (device id derived from it) and identified as the customer. */
@ApiTags('Masivo')
@Controller('v1/customers')
export class MasivoController {
  constructor(
    private readonly owners: OwnerClient,
    private readonly idempotency: IdempotencyStore,
  ) {}

  @Patch(':customerId/device-token')
  @Access('write')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Masivo: register a customer\'s device token (FCM, or APNs for an iOS hex token)',
    description: 'Registers (or refreshes) the FCM token, the device id derived from the token, and associates it with the customer. Answers 200 with the device view (token masked), also for a new device.',
  })
  @ApiHeader({ name: 'X-User-Hash', required: false, description: 'with identityVerification on, a write key proves the user of the path: hex HMAC-SHA256(userId, identitySecret); else 401 user_hash_invalid' })
  async deviceToken(
    @CurrentCaller() caller: Caller,
    @Param('customerId') customerId: string,
    @Body() dto: MasivoDeviceTokenDto,
    @Headers('idempotency-key') key: string | undefined,
    @Headers(USER_HASH_HEADER) userHash: string | undefined,
  ) {
    const userId = pathId(customerId, 'customerId');
    requireUserHash(caller, userId, userHash);
    const answer = await this.idempotency.run(caller.app.id, key, { masivo: userId, dto }, async (commandId) => {
      const info = dto.device_info;
      const attributes = { ...(info.model !== undefined ? { model: info.model } : {}), ...(info.osVersion !== undefined ? { osVersion: info.osVersion } : {}) };
      const { view } = await this.owners.device(
        { type: 'RegisterToken', commandId, appId: caller.app.id, issuedAt: new Date().toISOString(), deviceId: null, token: dto.device_token, provider: providerOfToken(dto.device_token, info.platform), platform: info.platform, attributes, pushEnabled: null, userId },
      );
      return { status: 200, body: presentDevice(view) };
    });
    return answer.body;
  }
}
