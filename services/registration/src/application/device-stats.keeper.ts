import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { EventStore } from '@pushledger/event-store';
import { EVENT_STORE } from '@pushledger/platform';
import { AppDeviceStats } from './device-stats';

/** Apps whose device stats are kept in memory; the least recently asked one is dropped beyond it. */
export const DEVICE_STATS_APPS_KEPT = 100;
/** An app asked about within this long has its stats folded forward in the background, so the next ask finds little to read. */
export const DEVICE_STATS_KEPT_WARM_MS = 15 * 60_000;
const REFRESH_EVERY_MS = 2000;

interface Kept {
  stats: AppDeviceStats;
  /** The latest catch-up; the next one starts after it. */
  tail: Promise<void>;
  askedAt: number;
  refreshing: boolean;
}

/**
 * Device stats per app, folded from the app's device facts once and then only from the facts after the last
 * one folded (positions are handed out in commit order, so reading after it never skips a late writer).
 * An ask waits for a catch-up that starts after it arrived, so it counts every fact stored before it.
 */
@Injectable()
export class DeviceStatsKeeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly kept = new Map<string, Kept>();
  private timer?: NodeJS.Timeout;

  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  async of(appId: string): Promise<AppDeviceStats> {
    let kept = this.kept.get(appId);
    if (!kept) {
      kept = { stats: new AppDeviceStats(), tail: Promise.resolve(), askedAt: 0, refreshing: false };
      this.kept.set(appId, kept);
      if (this.kept.size > DEVICE_STATS_APPS_KEPT) {
        const oldest = [...this.kept.entries()].reduce((a, b) => (b[1].askedAt < a[1].askedAt ? b : a));
        this.kept.delete(oldest[0]);
      }
    }
    kept.askedAt = Date.now();
    await this.catchUp(appId, kept);
    return kept.stats;
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.refresh(), REFRESH_EVERY_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled([...this.kept.values()].map((k) => k.tail));
  }

  private refresh(): void {
    const now = Date.now();
    for (const [appId, kept] of this.kept) {
      if (kept.refreshing || now - kept.askedAt > DEVICE_STATS_KEPT_WARM_MS) continue;
      kept.refreshing = true;
      // A failed refresh is retried by the next one or by the next ask, from the last fact folded.
      this.catchUp(appId, kept)
        .catch(() => undefined)
        .finally(() => (kept.refreshing = false));
    }
  }

  private catchUp(appId: string, kept: Kept): Promise<void> {
    const run = kept.tail.then(async () => {
      const filter = { streamPrefixes: [`device-${appId}-`] };
      const from = kept.stats.lastPosition;
      for await (const e of this.store.readAll(from === undefined ? { filter } : { filter, afterPosition: from })) kept.stats.apply(e);
    });
    kept.tail = run.catch(() => undefined);
    return run;
  }
}
