import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post, Res } from '@nestjs/common';
import { ApiBasicAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { randomBytes, randomUUID } from 'crypto';
import type { Response } from 'express';
import { deterministicUuid, deviceIdFromToken, type DeviceView } from '@pushledger/contracts';
import { maskToken } from '@pushledger/observability';
import { IdempotencyStore } from '../../infrastructure/idempotency.store';
import { OwnerClient } from '../../infrastructure/owner.client';
import { Access, Caller, CurrentCaller } from '../auth/access';
import { requireUserHash } from '../auth/user-hash';
import { ApiError } from '../http/api-error';
import { pushContentOf, stringData } from '../push-content';
import { ID_PATTERN, viewOr404 } from './compat-common';
import { TwilioRegistrationDto, TwilioSendDto } from './twilio.dto';

const REGISTRATION_PREFIX = 'comms_device_registration_';
const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

/** `comms_user_` + a ULID (lower case), like the users Twilio creates. */
export function newCommsUserId(now = Date.now()): string {
  let time = '';
  for (let t = now, i = 0; i < 10; i++, t = Math.floor(t / 32)) time = CROCKFORD[t % 32] + time;
  const random = [...randomBytes(16)].map((b) => CROCKFORD[b % 32]).join('');
  return `comms_user_${time}${random}`;
}

const registrationId = (deviceId: string) => `${REGISTRATION_PREFIX}${deviceId}`;

function deviceIdOf(id: string): string | null {
  const deviceId = id.startsWith(REGISTRATION_PREFIX) ? id.slice(REGISTRATION_PREFIX.length) : '';
  return ID_PATTERN.test(deviceId) ? deviceId : null;
}

/** A DeviceRegistration as Twilio shows it; the token masked like everywhere in Pushledger. */
function presentRegistration(view: DeviceView, appName: string) {
  return {
    id: registrationId(view.id),
    appName,
    userId: view.userId,
    devices: view.token ? [{ provider: view.provider === 'apns' ? 'APNs' : 'FCM', token: maskToken(view.token) }] : [],
    related: [
      ...(view.userId ? [{ id: view.userId, name: 'user', uri: `/Users/${view.userId}` }] : []),
      { id: appName, name: 'push_notification_app', uri: `/PushNotifications/Apps/${appName}` },
    ],
    tags: {},
  };
}

const REGISTRATION = {
  schema: {
    type: 'object',
    example: {
      id: 'comms_device_registration_d_xj3…',
      appName: 'test_app',
      userId: 'comms_user_01k7q2bx0mft5bvbxh3781hkmr',
      devices: [{ provider: 'FCM', token: 'odJFCr…9f2c1a7b3e' }],
      related: [
        { id: 'comms_user_01k7q2bx0mft5bvbxh3781hkmr', name: 'user', uri: '/Users/comms_user_01k7q2bx0mft5bvbxh3781hkmr' },
        { id: 'test_app', name: 'push_notification_app', uri: '/PushNotifications/Apps/test_app' },
      ],
      tags: {},
    },
  },
};

/**
 * Twilio Comms Push Notifications. A registration is one device (id derived from the token); its id is
 * `comms_device_registration_<deviceId>`. Twilio's account credentials map onto the app's keys
 * (Bearer, or Basic `<key>:` / `<appId>:<key>`): the write key may register, reads and deletes need the server key.
 */
@ApiTags('Twilio Comms Push')
@ApiBasicAuth()
@Controller('v1/PushNotifications')
export class TwilioController {
  constructor(
    private readonly owners: OwnerClient,
    private readonly idempotency: IdempotencyStore,
  ) {}

  @Post('DeviceRegistrations')
  @Access('write')
  @HttpCode(201)
  @ApiOperation({
    summary: 'Twilio: register a device token for a user',
    description: '`appName` must be the calling app\'s name (else 404, as Twilio answers for an unknown app). Without `userId` the device keeps its current user, or a `comms_user_…` user is created. The token in the answer is masked.',
  })
  @ApiCreatedResponse(REGISTRATION)
  async register(@CurrentCaller() caller: Caller, @Body() dto: TwilioRegistrationDto, @Headers('idempotency-key') key: string | undefined, @Res({ passthrough: true }) res: Response) {
    if (dto.appName !== caller.app.name) throw ApiError.notFound('push notification app');
    requireUserHash(caller, dto.userId, dto.userHash);
    const answer = await this.idempotency.run(caller.app.id, key, { twilio: dto }, async (commandId) => {
      const appId = caller.app.id;
      const provider = dto.provider === 'APNs' ? 'apns' : 'fcm';
      const existing = await this.owners.findDevice(appId, { deviceId: deviceIdFromToken(dto.token) });
      const { view } = await this.owners.device(
        {
          type: 'RegisterToken',
          commandId,
          appId,
          issuedAt: new Date().toISOString(),
          deviceId: null,
          token: dto.token,
          provider,
          platform: existing?.platform ?? (provider === 'apns' ? 'ios' : 'android'),
          attributes: {},
          pushEnabled: null,
          userId: dto.userId ?? existing?.userId ?? newCommsUserId(),
        },
      );
      return { status: 201, body: presentRegistration(view, caller.app.name) };
    });
    res.status(answer.status);
    return answer.body;
  }

  @Get('DeviceRegistrations/:id')
  @Access('server')
  @ApiOperation({ summary: 'Twilio: fetch a device registration' })
  @ApiOkResponse(REGISTRATION)
  async get(@CurrentCaller() caller: Caller, @Param('id') id: string) {
    return presentRegistration(await this.registration(caller.app.id, id), caller.app.name);
  }

  @Delete('DeviceRegistrations/:id')
  @Access('server')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Twilio: delete a device registration',
    description:
      'The registration is gone: the device leaves its user, `GET` (here and `/v1/devices/{id}`) answers 404 and no send reaches its token, until the token is registered again. ' +
      'Its history stays (`/v1/devices/{id}/events`). Deleting it again answers 404, except a retry with the same `Idempotency-Key`, which answers 204 again.',
  })
  @ApiNoContentResponse()
  async remove(@CurrentCaller() caller: Caller, @Param('id') id: string, @Headers('idempotency-key') key: string | undefined): Promise<void> {
    await this.idempotency.run(caller.app.id, key, { twilioDelete: id }, async (commandId) => {
      // Inside the idempotent run: a retry of a delete that went through replays its 204 rather than finding nothing.
      const view = await this.registration(caller.app.id, id);
      await this.owners.device({ type: 'UnregisterDevice', commandId, appId: caller.app.id, issuedAt: new Date().toISOString(), deviceId: view.id });
      return { status: 204, body: null };
    });
  }

  @Post()
  @Access('server')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Twilio: send a push to users',
    description:
      'One transactional push per recipient (`SendPush` to `{userId}`), to each of the user\'s eligible devices under the app\'s device policy. ' +
      'Answers once every push is accepted, with one message id per recipient (see `GET /v1/messages/{id}` for outcomes). With an `Idempotency-Key`, a retry sends nothing new.',
  })
  async send(@CurrentCaller() caller: Caller, @Body() dto: TwilioSendDto, @Headers('idempotency-key') key: string | undefined) {
    const operationKey = key ?? randomUUID();
    const { data, ...notification } = dto.content;
    const content = pushContentOf({ notification, data: stringData(data, 'content.data'), options: dto.options }, { notification: 'content', data: 'content.data', options: 'options' });
    const recipients = [...new Set(dto.to.map((t) => t.userId))];
    const messages = [];
    for (const userId of recipients) {
      // Per recipient, derived from the operation: a retried request names the same messages, and delivery sends each (message, device) once.
      const messageId = deterministicUuid(`twilio-push:${caller.app.id}:${operationKey}:${userId}`);
      const result = await this.owners.push({
        type: 'SendPush',
        commandId: messageId,
        appId: caller.app.id,
        issuedAt: new Date().toISOString(),
        messageId,
        to: { userId },
        content,
        transactional: true,
        devicePolicy: null,
        topic: dto.topic ?? null,
      });
      messages.push({ userId, messageId: result.messageId, targeted: result.targeted, skipped: result.skipped });
    }
    return { id: `comms_operation_${deterministicUuid(`twilio-op:${caller.app.id}:${operationKey}`).replace(/-/g, '')}`, status: 'accepted', messages };
  }

  private async registration(appId: string, id: string): Promise<DeviceView> {
    const deviceId = deviceIdOf(id);
    if (!deviceId) throw ApiError.notFound('device registration');
    return viewOr404(this.owners, appId, { deviceId }, 'device registration');
  }
}
