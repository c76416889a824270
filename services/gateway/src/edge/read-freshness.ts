import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Freshness, ReadSource } from '../application/fresh-reads';
import { ApiError } from './http/api-error';

export const MIN_POSITION_HEADER = 'X-Pushledger-Min-Position';
/** `read-model` (the projected views) or `event-store` (the streams' owner folded them: the read models were behind). */
export const READ_SOURCE_HEADER = 'X-Pushledger-Read-Source';

export const FRESHNESS_DESCRIPTION =
  'Served from the read models (MongoDB). Read-your-writes: the read first waits (at most 5 s, `READ_MODEL_MAX_WAIT_MS`; less with `Prefer: wait=<seconds>`) until the read models hold the position in `X-Pushledger-Min-Position` (header, or `minPosition` query parameter; a write answers it in `X-Pushledger-Position`) and the last position this gateway wrote for the app. If they do not get there in time, or hold nothing for this id yet, the service owning the streams folds them instead (503 `unavailable` when it does not answer). `X-Pushledger-Read-Source` says which: `read-model` or `event-store`.';

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

/** Puts where a read came from on its response, and hands its value on. */
export function served<T>(res: Response, read: { value: T; source: ReadSource }): T {
  res.setHeader(READ_SOURCE_HEADER, read.source);
  return read.value;
}
