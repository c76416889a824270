import { Injectable } from '@nestjs/common';
import type { DailyDeviceStatsResult, DeviceEventsResult, DeviceQueryResult, DeviceStatsResult, GetDailyDeviceStatsQuery, GetDeviceEventsQuery, GetDeviceQuery, GetDeviceStatsQuery } from '@pushledger/contracts';
import { deviceStream } from '@pushledger/contracts';
import { DeviceNotFoundError, toDeviceView } from '@pushledger/domain';
import { deviceAsOf, historyEntry, StreamExecutor } from '@pushledger/lifecycle';
import { DeviceFlows } from './device-flows';
import { DeviceStatsKeeper } from './device-stats.keeper';

export type DeviceQuery = GetDeviceQuery | GetDeviceEventsQuery | GetDeviceStatsQuery | GetDailyDeviceStatsQuery;

/** The gateway's reads of device and token streams, answered from the streams themselves. */
@Injectable()
export class DeviceQueriesHandler {
  constructor(
    private readonly flows: DeviceFlows,
    private readonly exec: StreamExecutor,
    private readonly stats: DeviceStatsKeeper,
  ) {}

  handle(query: DeviceQuery): Promise<DeviceQueryResult | DeviceEventsResult | DeviceStatsResult | DailyDeviceStatsResult> {
    switch (query.type) {
      case 'GetDevice':
        return this.device(query);
      case 'GetDeviceEvents':
        return this.events(query);
      case 'GetDeviceStats':
        return this.deviceStats(query);
      case 'GetDailyDeviceStats':
        return this.daily(query);
      default: {
        const _exhaustive: never = query;
        throw new Error(`unknown query ${(_exhaustive as { type: string }).type}`);
      }
    }
  }

  private async device(query: GetDeviceQuery): Promise<DeviceQueryResult> {
    let deviceId: string;
    try {
      deviceId = await this.flows.resolve(query.appId, query.device);
    } catch (err) {
      if (err instanceof DeviceNotFoundError) return { view: null };
      throw err;
    }
    if (query.asOf !== null) return { view: await deviceAsOf(this.exec, query.appId, deviceId, new Date(query.asOf)) };
    const state = await this.flows.device(query.appId, deviceId);
    return { view: state ? toDeviceView(state) : null };
  }

  /** One page: one event more than asked tells whether another page follows. */
  private async events(query: GetDeviceEventsQuery): Promise<DeviceEventsResult> {
    const from = query.fromRevision ?? 0;
    const stored = await this.exec.readStream(deviceStream(query.appId, query.deviceId), { fromRevision: BigInt(from), ...(query.limit ? { maxCount: query.limit + 1 } : {}) });
    const page = query.limit ? stored.slice(0, query.limit) : stored;
    return { events: page.map(historyEntry), next: query.limit && stored.length > query.limit ? Number(stored[query.limit].streamRevision) : null };
  }

  /**
   * Folded from the history itself, so they survive erasure (facts stay countable; only personal data and
   * tokens are gone), and kept per app by the keeper: the first ask reads every device fact of the app, later
   * ones only the facts since.
   */
  private async deviceStats(query: GetDeviceStatsQuery): Promise<DeviceStatsResult> {
    const stats = await this.stats.of(query.appId);
    return { ...stats.counts(), position: stats.lastPosition?.toString() ?? null };
  }

  private async daily(query: GetDailyDeviceStatsQuery): Promise<DailyDeviceStatsResult> {
    return { days: (await this.stats.of(query.appId)).daily(query.from, query.to) };
  }
}
