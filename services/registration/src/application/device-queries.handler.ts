import { Inject, Injectable } from '@nestjs/common';
import type { DailyDeviceStatsResult, DeviceEventsResult, DeviceQueryResult, DeviceStatsResult, GetDailyDeviceStatsQuery, GetDeviceEventsQuery, GetDeviceQuery, GetDeviceStatsQuery } from '@pushledger/contracts';
import { deviceStream } from '@pushledger/contracts';
import { DeviceNotFoundError, toDeviceView } from '@pushledger/domain';
import type { EventStore } from '@pushledger/event-store';
import { deviceAsOf, historyEntry, StreamExecutor } from '@pushledger/lifecycle';
import { DeviceFlows } from './device-flows';
import { EVENT_STORE } from '@pushledger/platform';
import { countDaily, DAILY_FACTS, DeviceCensus, emptyDays } from './device-stats';

export type DeviceQuery = GetDeviceQuery | GetDeviceEventsQuery | GetDeviceStatsQuery | GetDailyDeviceStatsQuery;

/** The gateway's reads of device and token streams, answered from the streams themselves. */
@Injectable()
export class DeviceQueriesHandler {
  constructor(
    private readonly flows: DeviceFlows,
    private readonly exec: StreamExecutor,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  handle(query: DeviceQuery): Promise<DeviceQueryResult | DeviceEventsResult | DeviceStatsResult | DailyDeviceStatsResult> {
    switch (query.type) {
      case 'GetDevice':
        return this.device(query);
      case 'GetDeviceEvents':
        return this.events(query);
      case 'GetDeviceStats':
        return this.stats(query);
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

  private async events(query: GetDeviceEventsQuery): Promise<DeviceEventsResult> {
    return { events: (await this.exec.readStream(deviceStream(query.appId, query.deviceId))).map(historyEntry) };
  }

  /**
   * Computed from the history itself, so they answer for any past period and survive erasure (facts stay
   * countable; only personal data and tokens are gone): O(facts of the app) time, O(devices) memory. Fine
   * for thousands to a few hundred thousand devices; beyond that, serve them from a projection.
   */
  private async stats(query: GetDeviceStatsQuery): Promise<DeviceStatsResult> {
    const census = new DeviceCensus();
    for await (const e of this.store.readAll({ filter: { streamPrefixes: [`device-${query.appId}-`] } })) census.apply(e);
    return { ...census.counts(), position: census.lastPosition?.toString() ?? null };
  }

  private async daily(query: GetDailyDeviceStatsQuery): Promise<DailyDeviceStatsResult> {
    const days = emptyDays(query.from, query.to);
    const filter = { eventTypes: Object.keys(DAILY_FACTS), streamPrefixes: [`device-${query.appId}-`] };
    for await (const e of this.store.readAll({ filter })) countDaily(days, e);
    return { days: [...days.values()] };
  }
}
