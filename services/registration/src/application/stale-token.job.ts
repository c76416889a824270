import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { Client } from 'pg';
import { AppRegistry } from '@pushledger/apps';
import type { PushledgerConfig } from '@pushledger/config';
import type { DeviceEvent } from '@pushledger/contracts';
import { deviceDecider, isPastStaleWindow, type DeviceState } from '@pushledger/domain';
import type { EventStore } from '@pushledger/event-store';
import { deterministicUuid } from '@pushledger/lifecycle';
import { DeviceFlows } from './device-flows';
import { JsonLogger } from '@pushledger/observability';
import { CONFIG, EVENT_STORE } from '@pushledger/platform';

/** A device that looks past its app's window; the device stream decides for itself when told to expire. */
export interface StaleCandidate {
  deviceId: string;
  lastSeenAt: string;
  revision: number;
}

/**
 * Where candidates come from. The history implementation folds every device fact of the app from the
 * global log: O(facts of the app) reads and O(devices) memory per run. A read-model query
 * (`status = active AND lastSeenAt < cutoff`) can replace it without touching the job.
 */
export interface StaleCandidateSource {
  candidates(appId: string, staleAfterDays: number, now: Date): AsyncIterable<StaleCandidate>;
}

export class HistoryStaleCandidates implements StaleCandidateSource {
  constructor(private readonly store: EventStore) {}

  async *candidates(appId: string, staleAfterDays: number, now: Date): AsyncIterable<StaleCandidate> {
    const devices = new Map<string, DeviceState>();
    for await (const e of this.store.readAll({ filter: { streamPrefixes: [`device-${appId}-`] } })) {
      const next = deviceDecider.evolve(devices.get(e.stream) ?? null, { type: e.type, data: e.data } as DeviceEvent);
      // The dedupe lists are not needed to judge staleness; dropping them keeps the map small.
      if (next) devices.set(e.stream, { ...next, recentMessageIds: [], invalidatedTokens: [] });
    }
    for (const d of devices.values()) {
      if (d.status === 'active' && d.token !== null && isPastStaleWindow(d.lastSeenAt, now, staleAfterDays)) yield { deviceId: d.deviceId, lastSeenAt: d.lastSeenAt, revision: d.revision };
    }
  }
}

export interface StaleAppReport {
  appId: string;
  staleAfterDays: number;
  /** Device ids expired (or, in a dry run, that would be). */
  expired: string[];
  /** Candidates the device itself declined (seen since the scan) or that failed. */
  skipped: number;
  failed: number;
}

export interface StaleJobReport {
  /** false: another instance held the lock, so this one did nothing. */
  ran: boolean;
  dryRun: boolean;
  at: string;
  apps: StaleAppReport[];
  expired: number;
}

export interface StaleTokenJobOptions {
  /** Minutes between runs; 0 disables the schedule (runOnce still works). Default 60. */
  intervalMinutes?: number;
  dryRun?: boolean;
  clock?: () => Date;
  /** The apps and their windows; defaults to the app registry. */
  apps?: () => Promise<{ id: string; staleAfterDays: number }[]>;
  candidates?: StaleCandidateSource;
}

export const STALE_TOKEN_JOB_OPTIONS = Symbol('STALE_TOKEN_JOB_OPTIONS');
/** Session advisory lock: one instance runs at a time; a crashed holder's lock goes with its connection. */
export const STALE_TOKEN_JOB_LOCK = 'pushledger.registration.stale-token-job';

/**
 * Expires tokens not seen for the app's `staleAfterDays`: every `intervalMinutes`, on one instance at a
 * time (PostgreSQL advisory lock), it asks each candidate device to `ExpireToken` through DeviceFlows.
 * The device decides on its own lastSeenAt, so a device seen since the scan stays active; the command id
 * derives from (app, device, lastSeenAt), so a repeated or concurrent run writes the fact once.
 */
@Injectable()
export class StaleTokenJob implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly intervalMinutes: number;
  private readonly dryRun: boolean;
  private readonly clock: () => Date;
  private readonly source: StaleCandidateSource;
  private registry?: AppRegistry;
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopped = false;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CONFIG) private readonly config: PushledgerConfig,
    private readonly flows: DeviceFlows,
    private readonly logger: JsonLogger,
    @Optional() @Inject(STALE_TOKEN_JOB_OPTIONS) private readonly options: StaleTokenJobOptions = {},
  ) {
    this.intervalMinutes = options.intervalMinutes ?? config.staleTokenJob.intervalMinutes;
    this.dryRun = options.dryRun ?? config.staleTokenJob.dryRun;
    this.clock = options.clock ?? (() => new Date());
    this.source = options.candidates ?? new HistoryStaleCandidates(store);
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.intervalMinutes <= 0) return;
    this.schedule();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
    await this.registry?.stop();
  }

  private schedule(): void {
    if (this.stopped) return;
    // Jitter, so replicas started together do not all reach for the lock at once.
    const ms = this.intervalMinutes * 60_000 * (0.9 + Math.random() * 0.2);
    this.timer = setTimeout(() => {
      this.running = this.runOnce()
        .catch((err: Error) => this.logger.error('stale token job failed', { error: err.message }))
        .finally(() => this.schedule());
    }, ms);
    this.timer.unref();
  }

  /** One pass over every app; `dryRun` reports what it would expire and writes nothing. */
  async runOnce(opts: { dryRun?: boolean } = {}): Promise<StaleJobReport> {
    const dryRun = opts.dryRun ?? this.dryRun;
    const now = this.clock();
    const report: StaleJobReport = { ran: false, dryRun, at: now.toISOString(), apps: [], expired: 0 };
    const lock = new Client({ connectionString: this.config.eventStore.postgresUrl });
    lock.on('error', () => undefined);
    await lock.connect();
    try {
      const { rows } = await lock.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [STALE_TOKEN_JOB_LOCK]);
      if (!rows[0]?.locked) {
        this.logger.info('stale token job: another instance is running it');
        return report;
      }
      report.ran = true;
      try {
        for (const app of await this.apps()) report.apps.push(await this.runApp(app.id, app.staleAfterDays, now, dryRun));
      } finally {
        await lock.query('SELECT pg_advisory_unlock(hashtext($1))', [STALE_TOKEN_JOB_LOCK]);
      }
    } finally {
      await lock.end().catch(() => undefined);
    }
    report.expired = report.apps.reduce((n, a) => n + a.expired.length, 0);
    this.logger.info(dryRun ? 'stale token job (dry run): would expire' : 'stale token job: expired', {
      expired: report.expired,
      apps: report.apps.filter((a) => a.expired.length || a.failed).map((a) => ({ appId: a.appId, expired: a.expired.length, sample: a.expired.slice(0, 20), skipped: a.skipped, failed: a.failed })),
    });
    return report;
  }

  private async runApp(appId: string, staleAfterDays: number, now: Date, dryRun: boolean): Promise<StaleAppReport> {
    const out: StaleAppReport = { appId, staleAfterDays, expired: [], skipped: 0, failed: 0 };
    for await (const c of this.source.candidates(appId, staleAfterDays, now)) {
      if (dryRun) {
        out.expired.push(c.deviceId);
        continue;
      }
      try {
        const view = await this.flows.handle(
          { type: 'ExpireToken', commandId: deterministicUuid(`stale:${appId}:${c.deviceId}:${c.lastSeenAt}`), appId, issuedAt: now.toISOString(), deviceId: c.deviceId, staleAfterDays },
          now,
        );
        if (view.status === 'stale' && view.revision > c.revision) out.expired.push(c.deviceId);
        else out.skipped++;
      } catch (err) {
        out.failed++;
        this.logger.warn('stale token job: device failed', { appId, deviceId: c.deviceId, error: (err as Error).message });
      }
    }
    return out;
  }

  private async apps(): Promise<{ id: string; staleAfterDays: number }[]> {
    if (this.options.apps) return this.options.apps();
    if (!this.registry) {
      this.registry = new AppRegistry(this.store);
      await this.registry.start();
    }
    return this.registry.all().map((a) => ({ id: a.id, staleAfterDays: a.settings.staleAfterDays }));
  }
}
