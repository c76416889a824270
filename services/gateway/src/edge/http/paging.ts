import { applyDecorators } from '@nestjs/common';
import { ApiHeader, ApiQuery } from '@nestjs/swagger';
import type { Response } from 'express';
import type { CreationKey } from '@pushledger/contracts';
import { ApiError } from './api-error';

/** The most items one page of any list answers. */
export const MAX_PAGE = 1000;

/** `limit` of a paged list: absent → `defaultLimit`; else an integer from 1 to MAX_PAGE (400 naming `limit`). */
export function pageLimit(param: string | undefined, defaultLimit: number): number {
  if (param === undefined) return defaultLimit;
  if (!/^\d{1,4}$/.test(param) || Number(param) < 1 || Number(param) > MAX_PAGE) throw ApiError.validation('limit', `an integer from 1 to ${MAX_PAGE}`);
  return Number(param);
}

type KeyPart = string | number;

/** Cursors are opaque to clients (base64url of the page's last sort key), so the order key can change later. */
export function cursorOf(key: readonly KeyPart[]): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/** The sort key of a cursor made by `cursorOf`, with the given part types; anything else is a 400 naming `after`. */
export function cursorValue<K extends KeyPart[]>(cursor: string, types: { [I in keyof K]: K[I] extends number ? 'number' : 'string' }): K {
  try {
    const key = /^[A-Za-z0-9_-]{1,1400}$/.test(cursor) ? (JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown) : null;
    if (Array.isArray(key) && key.length === types.length && key.every((p, i) => typeof p === types[i]) && cursorOf(key as KeyPart[]) === cursor) return key as K;
  } catch {
    // falls through to the 400
  }
  throw ApiError.validation('after', "a cursor from the previous page's Link header");
}

/** `Link: <path?limit=N&after=CURSOR>; rel="next"` when another page follows the one answered. */
export function linkNext(res: Response, path: string, limit: number, next: readonly KeyPart[] | null): void {
  if (next) res.setHeader('Link', `<${path}?limit=${limit}&after=${cursorOf(next)}>; rel="next"`);
}

/** The (createdAt, id) key of a list kept in creation order, from its `after` parameter (null: absent). */
export function creationCursor(afterParam: string | undefined): CreationKey | null {
  return afterParam === undefined ? null : cursorValue<CreationKey>(afterParam, ['string', 'string']);
}

/** The OpenAPI description of a paged list's `limit`, `after` and `Link`, the same on every paged route. */
export function ApiPaged(items: string, defaultLimit: number) {
  return applyDecorators(
    ApiQuery({ name: 'limit', required: false, description: `${items} per page, 1 to ${MAX_PAGE} (default ${defaultLimit})` }),
    ApiQuery({ name: 'after', required: false, description: 'cursor: the `after` of the previous answer\'s `Link` (rel="next")' }),
    ApiHeader({ name: 'Link', required: false, description: 'response header: `<…>; rel="next"` when another page follows' }),
  );
}
