import { Inject, Injectable } from '@nestjs/common';
import { deviceStream, type IdentityQuery, type UserDevicesResult, type UserExportResult, type UserKeyResult, type UserQueryResult } from '@pushledger/contracts';
import { deviceDecider, toDeviceView } from '@pushledger/domain';
import type { EventStore } from '@pushledger/event-store';
import { exportUser, StreamExecutor, userAsOf } from '@pushledger/lifecycle';
import { UserFlows } from './user-flows';
import { EVENT_STORE } from '@pushledger/platform';
import { userKeysOf, type UserKeyResolver } from '@pushledger/read-models';

/** The gateway's reads of user streams, answered from the streams themselves. */
@Injectable()
export class UserQueriesHandler {
  private readonly userKey: UserKeyResolver;

  constructor(
    private readonly exec: StreamExecutor,
    private readonly users: UserFlows,
    @Inject(EVENT_STORE) store: EventStore,
  ) {
    this.userKey = userKeysOf(store);
  }

  handle(query: IdentityQuery): Promise<UserQueryResult | UserDevicesResult | UserExportResult | UserKeyResult> {
    switch (query.type) {
      case 'GetUser':
        return this.user(query.appId, query.userId, query.asOf);
      case 'GetUserDevices':
        return this.devices(query.appId, query.userId);
      case 'ExportUser':
        return exportUser(this.exec, query.appId, query.userId).then((found) => ({ export: found }));
      case 'GetUserKey':
        return this.userKey(query.appId, query.userId).then((key) => ({ key }));
      default: {
        const _exhaustive: never = query;
        throw new Error(`unknown query ${(_exhaustive as { type: string }).type}`);
      }
    }
  }

  private async user(appId: string, userId: string, asOf: string | null): Promise<UserQueryResult> {
    return { view: asOf === null ? await this.users.view(appId, userId) : await userAsOf(this.exec, appId, userId, new Date(asOf)) };
  }

  /** The devices the user stream lists that still name the user as owner (the device streams are the truth about ownership). */
  private async devices(appId: string, userId: string): Promise<UserDevicesResult> {
    const user = await this.users.view(appId, userId);
    if (!user) return { views: null };
    const states = await Promise.all(user.deviceIds.map(async (id) => (await this.exec.load(deviceDecider, deviceStream(appId, id))).state));
    return { views: states.filter((d) => d !== null && d.userId === userId).map((d) => toDeviceView(d!)) };
  }
}
