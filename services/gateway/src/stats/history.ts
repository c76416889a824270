import { deviceStream, userStream, type DeviceEvent, type UserEvent } from '@pushledger/contracts';
import { deviceDecider, toDeviceView, userDecider, type DeviceState, type DeviceView, type UserState } from '@pushledger/domain';
import type { StoredEvent } from '@pushledger/event-store';
import { StreamExecutor, toUserView, type UserView } from '@pushledger/lifecycle';
import { ApiError } from '../http/api-error';

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

/**
 * The stream's facts that had happened at `asOf`: those with occurredAt ≤ asOf, in stream order. It stops
 * at the first later fact, so a fact stamped out of order by a skewed clock cannot fold without its
 * predecessors.
 */
export function factsUntil(events: StoredEvent[], asOf: Date): StoredEvent[] {
  const limit = asOf.getTime();
  const end = events.findIndex((e) => !(Date.parse(e.metadata.occurredAt) <= limit));
  return end < 0 ? events : events.slice(0, end);
}

function fold<S, E>(decider: { initialState: S; evolve: (s: S, e: E) => S }, events: StoredEvent[]): S {
  return events.reduce((s, e) => decider.evolve(s, { type: e.type, data: e.data } as E), decider.initialState);
}

/** The device as it was at `asOf`, or null if it did not exist yet. */
export async function deviceAsOf(exec: StreamExecutor, appId: string, deviceId: string, asOf: Date): Promise<DeviceView | null> {
  const facts = factsUntil(await exec.readStream(deviceStream(appId, deviceId)), asOf);
  const state = fold<DeviceState | null, DeviceEvent>(deviceDecider, facts);
  return state ? toDeviceView(state) : null;
}

/** The user as they were at `asOf`, or null if their stream did not exist yet. Erased data stays erased. */
export async function userAsOf(exec: StreamExecutor, appId: string, userId: string, asOf: Date): Promise<UserView | null> {
  const facts = factsUntil(await exec.readStream(userStream(appId, userId)), asOf);
  const state = fold<UserState | null, UserEvent>(userDecider, facts);
  return state ? toUserView(state) : null;
}

/**
 * Devices to include in a user's export: those linked now, and those the user stream shows they had.
 * Of a device they no longer have, only the facts about them; any other person's pii is left out.
 */
export function exportDeviceIds(user: UserView, userEvents: StoredEvent[]): string[] {
  const ids = new Set(user.deviceIds);
  for (const e of userEvents) {
    const d = e.data as { deviceId?: unknown; deviceIds?: unknown };
    if (typeof d.deviceId === 'string') ids.add(d.deviceId);
    if (Array.isArray(d.deviceIds)) for (const id of d.deviceIds) if (typeof id === 'string') ids.add(id);
  }
  return [...ids].sort();
}

export function deviceFactsFor(userId: string, events: StoredEvent[], linked: boolean): StoredEvent[] {
  const subject = (e: StoredEvent) => (e.data as { pii?: { userId?: unknown } }).pii?.userId;
  const hasPii = (e: StoredEvent) => (e.data as { pii?: unknown }).pii !== undefined;
  const kept = linked ? events : events.filter((e) => hasPii(e) && subject(e) === userId);
  return kept.map((e) => (hasPii(e) && subject(e) !== userId ? { ...e, data: { ...(e.data as object), pii: { otherDataSubject: true } } } : e));
}
