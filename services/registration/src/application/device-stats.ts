import { utcDays, type DayCountsV1, type DeviceCountsV1, type DeviceEvent } from '@pushledger/contracts';
import { deviceDecider, EMPTY_ATTRIBUTES, isUnregistered, type DeviceState } from '@pushledger/domain';
import type { StoredEvent } from '@pushledger/event-store';

/**
 * Current state of every device of an app, folded from its history with the device decider's own
 * `evolve` (the same rules as the API view). Memory is one compact state per device: the bounded lists
 * that only dedupe outcomes are dropped after each fact, since counts do not read them, and so are the
 * token, the user id and every attribute but the app version: `evolve` only ever overwrites them, and a
 * census kept in memory must hold nothing an erasure would have to reach.
 */
export class DeviceCensus {
  private readonly devices = new Map<string, DeviceState>();
  lastPosition: bigint | undefined;

  apply(e: StoredEvent): void {
    const before = this.devices.get(e.stream) ?? null;
    const after = deviceDecider.evolve(before, { type: e.type, data: e.data } as DeviceEvent);
    if (after) {
      this.devices.set(e.stream, {
        ...after,
        token: after.token === null ? null : '',
        userId: after.userId === null ? null : '',
        attributes: { ...EMPTY_ATTRIBUTES, appVersion: after.attributes.appVersion },
        recentMessageIds: [],
        invalidatedTokens: [],
      });
    }
    this.lastPosition = e.position;
  }

  counts(): DeviceCountsV1 {
    const out: DeviceCountsV1 = {
      total: 0,
      byStatus: { active: 0, stale: 0, invalid: 0 },
      byLastStatus: { unused: 0, sent: 0, bounced: 0, suppressed: 0 },
      byPlatform: {},
      byProvider: {},
      byAppVersion: {},
    };
    const inc = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);
    for (const d of this.devices.values()) {
      if (isUnregistered(d)) continue;
      out.total++;
      inc(out.byStatus, d.status);
      inc(out.byLastStatus, d.lastStatus);
      inc(out.byPlatform, d.platform);
      inc(out.byProvider, d.provider);
      inc(out.byAppVersion, d.attributes.appVersion ?? 'unknown');
    }
    return out;
  }
}

/** Facts counted per day by the daily report: a new token (new device or new token on a device), a dead one, a stale one. */
export const DAILY_FACTS = { TokenRegistered: 'registered', TokenRefreshed: 'registered', TokenInvalidated: 'invalidated', TokenExpired: 'expired' } as const;

/** An app's census and its facts per day over all time, kept up to date by folding only the facts after `lastPosition`. */
export class AppDeviceStats {
  private readonly census = new DeviceCensus();
  private readonly days = new Map<string, DayCountsV1>();
  lastPosition: bigint | undefined;

  apply(e: StoredEvent): void {
    this.census.apply(e);
    const kind = DAILY_FACTS[e.type as keyof typeof DAILY_FACTS];
    const t = kind ? Date.parse(e.metadata.occurredAt) : NaN;
    if (kind && !Number.isNaN(t)) {
      const date = new Date(t).toISOString().slice(0, 10);
      const day = this.days.get(date) ?? { date, registered: 0, invalidated: 0, expired: 0 };
      day[kind]++;
      this.days.set(date, day);
    }
    this.lastPosition = e.position;
  }

  counts(): DeviceCountsV1 {
    return this.census.counts();
  }

  daily(from: string, to: string): DayCountsV1[] {
    return utcDays(from, to).map((date) => ({ ...(this.days.get(date) ?? { date, registered: 0, invalidated: 0, expired: 0 }) }));
  }
}
