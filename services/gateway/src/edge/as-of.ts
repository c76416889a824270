import { ApiError } from './http/api-error';

const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:T([01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/;

/** An ISO-8601 date or instant whose calendar date exists (Date.parse would roll 02-30 over to March). */
function isoTime(value: string): number {
  const m = ISO_INSTANT.exec(value);
  if (!m) return NaN;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const day = new Date(Date.UTC(y, mo - 1, d));
  return day.getUTCFullYear() === y && day.getUTCMonth() === mo - 1 && day.getUTCDate() === d ? Date.parse(value) : NaN;
}

/** `?asOf=`: an ISO-8601 date or instant (a date alone is its UTC midnight); anything else is a 400. */
export function parseAsOf(value: string): Date {
  const t = isoTime(value);
  if (Number.isNaN(t)) throw ApiError.validation('asOf', 'must be an ISO-8601 time, e.g. 2025-01-31T12:00:00Z');
  return new Date(t);
}
