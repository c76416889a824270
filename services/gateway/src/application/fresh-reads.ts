import { Inject, Injectable } from '@nestjs/common';
import type { PushledgerConfig } from '@pushledger/config';
import { CONFIG, metricsRegistry } from '@pushledger/platform';
import { Counter } from 'prom-client';
import { ReadModels } from '@pushledger/read-models';
import { WritePositions } from './write-positions';

/** What a read asks of its freshness: `minPosition` (header or query), and `Prefer: wait=<seconds>` to wait less. */
export interface Freshness {
  minPosition: bigint;
  waitMs: number | null;
}

/** `read-model` (the projected views) or `event-store` (the owner folded the streams: the read models were behind). */
export type ReadSource = 'read-model' | 'event-store';

/** `source`: read-model, or event-store because the read models were behind or held no document (missing). */
const reads = new Counter({ name: 'pushledger_gateway_reads_total', help: 'Device and user reads by where they were served from', labelNames: ['source'], registers: [metricsRegistry] });

/**
 * Reads served from the read models, with read-your-writes: a read first waits until the projector has
 * reached the position the caller asks for and the last one this gateway wrote for the app; if it does not
 * get there in time, or the read models hold nothing for the id, the streams' owner is asked instead (it
 * folds the streams), so lag never answers stale data, a 404 or a 503 of its own.
 */
@Injectable()
export class FreshReads {
  /** Highest projected position seen: reads at or below it need not ask the database again. */
  private reached = 0n;
  private probe?: Promise<bigint>;

  constructor(
    private readonly models: ReadModels,
    private readonly positions: WritePositions,
    @Inject(CONFIG) private readonly config: PushledgerConfig,
  ) {}

  async read<T>(appId: string, want: Freshness, fromModels: (models: ReadModels) => Promise<T | null>, fromOwner: () => Promise<T>): Promise<{ value: T; source: ReadSource }> {
    const fresh = await this.caughtUp(appId, want);
    if (fresh) {
      const value = await fromModels(this.models);
      if (value !== null) {
        reads.inc({ source: 'read-model' });
        return { value, source: 'read-model' };
      }
    }
    reads.inc({ source: fresh ? 'event-store-missing' : 'event-store-behind' });
    return { value: await fromOwner(), source: 'event-store' };
  }

  private async caughtUp(appId: string, want: Freshness): Promise<boolean> {
    const target = want.minPosition > this.positions.lastWritten(appId) ? want.minPosition : this.positions.lastWritten(appId);
    if (target <= this.reached) return true;
    const maxWait = this.config.reads.maxWaitMs;
    const deadline = Date.now() + (want.waitMs === null ? maxWait : Math.min(want.waitMs, maxWait));
    for (;;) {
      if ((await this.position()) >= target) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** One query at a time, however many reads are waiting. */
  private position(): Promise<bigint> {
    this.probe ??= this.models
      .position()
      .then((p) => {
        if (p > this.reached) this.reached = p;
        return p;
      })
      .finally(() => (this.probe = undefined));
    return this.probe;
  }
}
