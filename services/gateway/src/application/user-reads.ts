import { Injectable } from '@nestjs/common';
import type { DeviceView } from '@pushledger/domain';
import type { UserView } from '@pushledger/contracts';
import { summaryView } from '@pushledger/read-models';
import { OwnerClient } from '../infrastructure/owner.client';
import { FreshReads, type Freshness, type ReadSource } from './fresh-reads';

export type Read<T> = { value: T | null; source: ReadSource };

/** A user and their devices as the read models hold them, or from the streams' owners when the models lag (null: no such user). */
@Injectable()
export class UserReads {
  constructor(
    private readonly fresh: FreshReads,
    private readonly owners: OwnerClient,
  ) {}

  user(appId: string, userId: string, freshness: Freshness): Promise<Read<UserView>> {
    return this.fresh.read<UserView | null>(
      appId,
      freshness,
      (models) => models.user(appId, userId),
      () => this.owners.findUser(appId, userId),
    );
  }

  /** The devices that name the user as owner (the device streams are the truth about ownership). */
  devices(appId: string, userId: string, freshness: Freshness): Promise<Read<DeviceView[]>> {
    return this.fresh.read<DeviceView[] | null>(
      appId,
      freshness,
      async (models) => {
        const doc = await models.userDoc(appId, userId);
        return doc && doc.revision > 0 ? doc.devices.map((d) => summaryView(appId, userId, d)) : null;
      },
      () => this.owners.userDevices(appId, userId),
    );
  }
}
