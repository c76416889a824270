import { createParamDecorator, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { PushledgerConfig } from '@pushledger/config';
import { CONFIG, metricsRegistry } from '@pushledger/platform';
import { Counter } from 'prom-client';
import { ReadModels } from '@pushledger/read-models';
import { ApiError } from '../http/api-error';
import { WritePositions } from './write-positions';

export const MIN_POSITION_HEADER = 'X-Pushledger-Min-Position';
/** `read-model` (the projected views) or `event-store` (folded from the facts: the read models were behind). */
export const READ_SOURCE_HEADER = 'X-Pushledger-Read-Source';

/** What a read asks of its freshness: `minPosition` (header or query), and `Prefer: wait=<seconds>` to wait less. */
export interface Freshness {
  minPosition: bigint;
  waitMs: number | null;
}

export const FRESHNESS_DESCRIPTION =
  'Served from the read models (MongoDB). Read-your-writes: the read first waits (at most 5 s, `READ_MODEL_MAX_WAIT_MS`; less with `Prefer: wait=<seconds>`) until the read models hold the position in `X-Pushledger-Min-Position` (header, or `minPosition` query parameter; a write answers it in `X-Pushledger-Position`) and the last position this gateway wrote for the app. If they do not get there in time, or hold nothing for this id yet, the answer is folded from the event store instead. `X-Pushledger-Read-Source` says which: `read-model` or `event-store`.';

/** `source`: read-model, or event-store because the read models were behind or held no document (missing). */
const reads = new Counter({ name: 'pushledger_gateway_reads_total', help: 'Device and user reads by where they were served from', labelNames: ['source'], registers: [metricsRegistry] });

const POSITION = /^\d{1,19}$/;
const PREFER_WAIT = /(?:^|[,;\s])wait\s*=\s*"?(\d{1,6})"?/i;

export function parseFreshness(header: string | undefined, query: unknown, prefer: string | undefined): Freshness {
  const raw = header ?? (typeof query === 'string' ? query : undefined);
  if (raw !== undefined && !POSITION.test(raw.trim())) throw ApiError.validation('minPosition', 'must be a store position (a non-negative integer, as X-Pushledger-Position gives it)');
  const wait = prefer ? PREFER_WAIT.exec(prefer) : null;
  return { minPosition: raw === undefined ? 0n : BigInt(raw.trim()), waitMs: wait ? Number(wait[1]) * 1000 : null };
}

export const ReadFreshness = createParamDecorator((_: unknown, ctx: ExecutionContext): Freshness => {
  const req = ctx.switchToHttp().getRequest<Request>();
  return parseFreshness(req.header(MIN_POSITION_HEADER), req.query.minPosition, req.header('prefer'));
});

/**
 * Reads served from the read models, with read-your-writes: a read first waits until the projector has
 * reached the position the caller asks for and the last one this gateway wrote for the app; if it does not
 * get there in time, or the read models hold nothing for the id, the view is folded from the store.
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

  async read<T>(appId: string, want: Freshness, res: Response, fromModels: (models: ReadModels) => Promise<T | null>, fromStore: () => Promise<T>): Promise<T> {
    const fresh = await this.caughtUp(appId, want);
    if (fresh) {
      const view = await fromModels(this.models);
      if (view !== null) {
        reads.inc({ source: 'read-model' });
        res.setHeader(READ_SOURCE_HEADER, 'read-model');
        return view;
      }
    }
    reads.inc({ source: fresh ? 'event-store-missing' : 'event-store-behind' });
    res.setHeader(READ_SOURCE_HEADER, 'event-store');
    return fromStore();
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
