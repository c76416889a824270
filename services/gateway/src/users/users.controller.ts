import { Body, Controller, Delete, Get, Headers, Param, Patch, Query } from '@nestjs/common';
import { ApiQuery } from '@nestjs/swagger';
import { IsBoolean, IsObject, IsOptional } from 'class-validator';
import { deviceStream, userStream } from '@pushledger/contracts';
import { DeviceFlows, StreamExecutor, UserFlows, UserView } from '@pushledger/lifecycle';
import { Access, Caller, CurrentCaller } from '../auth/access';
import { ApiError } from '../http/api-error';
import { deviceFactsFor, exportDeviceIds, parseAsOf, userAsOf } from '../stats/history';
import { IdempotencyStore } from '../registry/idempotency.store';
import { presentDevice, presentEvent, presentUser } from '../registry/present';
import { RegistryClient } from '../registry/registry.client';

export class PatchUserDto {
  @IsOptional()
  @IsObject()
  traits?: Record<string, unknown>;

  @IsOptional()
  @IsBoolean()
  unsubscribed?: boolean;
}

@Controller('v1/users')
@Access('server')
export class UsersController {
  constructor(
    private readonly registry: RegistryClient,
    private readonly idempotency: IdempotencyStore,
    private readonly users: UserFlows,
    private readonly devices: DeviceFlows,
    private readonly exec: StreamExecutor,
  ) {}

  @Get(':userId')
  @ApiQuery({ name: 'asOf', required: false, description: 'ISO time: the user as they were then, rebuilt from their history (404 if unknown then); erased data stays erased' })
  async get(@CurrentCaller() caller: Caller, @Param('userId') userId: string, @Query('asOf') asOf?: string) {
    if (asOf === undefined) return presentUser(await this.user(caller.app.id, userId));
    const then = await userAsOf(this.exec, caller.app.id, userId, parseAsOf(asOf));
    if (!then) throw ApiError.notFound('user');
    return presentUser(then);
  }

  @Get(':userId/devices')
  async listDevices(@CurrentCaller() caller: Caller, @Param('userId') userId: string) {
    const user = await this.user(caller.app.id, userId);
    const views = await Promise.all(user.deviceIds.map((id) => this.devices.device(caller.app.id, id)));
    return views.filter((d) => d !== null && d.userId === userId).map((d) => presentDevice(this.devices.present(d!)));
  }

  @Patch(':userId')
  async patch(@CurrentCaller() caller: Caller, @Param('userId') userId: string, @Body() dto: PatchUserDto, @Headers('idempotency-key') key: string | undefined) {
    if (dto.traits === undefined && dto.unsubscribed === undefined) throw ApiError.validation('traits', 'traits or unsubscribed is required');
    const answer = await this.idempotency.run(caller.app.id, key, { userId, dto }, async (commandId) => {
      const base = { appId: caller.app.id, issuedAt: new Date().toISOString(), userId };
      let view: UserView | undefined;
      if (dto.traits !== undefined) view = await this.registry.user({ ...base, commandId: `${commandId}-traits`, type: 'UpdateTraits', traits: dto.traits as never });
      if (dto.unsubscribed !== undefined) view = await this.registry.user({ ...base, commandId: `${commandId}-subscription`, type: dto.unsubscribed ? 'Unsubscribe' : 'Resubscribe' });
      return { status: 200, body: presentUser(view!) };
    });
    return answer.body;
  }

  @Delete(':userId')
  async erase(@CurrentCaller() caller: Caller, @Param('userId') userId: string, @Headers('idempotency-key') key: string | undefined) {
    const answer = await this.idempotency.run(caller.app.id, key, { erase: userId }, async (commandId) => {
      const view = await this.registry.user({ type: 'EraseUser', commandId, appId: caller.app.id, issuedAt: new Date().toISOString(), userId });
      return { status: 200, body: { id: view.id, erased: true } };
    });
    return answer.body;
  }

  /** Everything stored about the user, decrypted: view, user stream, and each device they have or had (other people's pii left out). */
  @Get(':userId/export')
  async export(@CurrentCaller() caller: Caller, @Param('userId') userId: string) {
    const user = await this.user(caller.app.id, userId);
    const userEvents = await this.exec.readStream(userStream(caller.app.id, userId));
    const devices = await Promise.all(
      exportDeviceIds(user, userEvents).map(async (id) => {
        const linked = user.deviceIds.includes(id);
        const d = linked ? await this.devices.device(caller.app.id, id) : null;
        const events = deviceFactsFor(userId, await this.exec.readStream(deviceStream(caller.app.id, id)), linked);
        return events.length || d ? { id, linked, device: d ? presentDevice(this.devices.present(d)) : null, events: events.map(presentEvent) } : null;
      }),
    );
    return {
      exportedAt: new Date().toISOString(),
      user: presentUser(user),
      userEvents: userEvents.map(presentEvent),
      devices: devices.filter((d) => d !== null),
    };
  }

  private async user(appId: string, userId: string): Promise<UserView> {
    const view = await this.users.view(appId, userId);
    if (!view) throw ApiError.notFound('user');
    return view;
  }
}
