import type { NextFunction, Request, Response } from 'express';
import { ApiError } from './api-error';

/** Traits and payloads deeper than this are refused: nothing we store needs more, and deep documents are costly to project and query. */
export const MAX_JSON_DEPTH = 32;

/** The nesting depth of a parsed JSON value, without recursion (a 64 KiB body can nest ~10,000 levels). */
export function jsonDepth(value: unknown, stopAbove = Infinity): number {
  let max = 0;
  const stack: { v: unknown; d: number }[] = [{ v: value, d: 0 }];
  while (stack.length) {
    const { v, d } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    const depth = d + 1;
    if (depth > max) max = depth;
    if (max > stopAbove) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (typeof child === 'object' && child !== null) stack.push({ v: child, d: depth });
  }
  return max;
}

/** Runs after the body parser: a body nested deeper than MAX_JSON_DEPTH is a 400 `body_too_deep`. */
export function rejectDeepJson(req: Request, _res: Response, next: NextFunction): void {
  if (jsonDepth(req.body, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    next(new ApiError(400, 'body_too_deep', `the request body is nested deeper than ${MAX_JSON_DEPTH} levels`));
    return;
  }
  next();
}
