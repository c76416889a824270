import { deviceStream, userStream, type DeviceEvent, type DeviceView, type HistoryEntry, type UserEvent, type UserExportV1, type UserView } from '@pushledger/contracts';
import { deviceDecider, toDeviceView, userDecider, type DeviceState, type UserState } from '@pushledger/domain';
import type { StoredEvent } from '@pushledger/event-store';
import { redact } from '@pushledger/observability';
import { StreamExecutor } from './stream-executor';

/** A stored fact as history reads show it; token fields are masked like everywhere else. */
export function historyEntry(e: StoredEvent): HistoryEntry {
  return { type: e.type, occurredAt: e.metadata.occurredAt, data: redact(e.data), position: e.position.toString(), revision: Number(e.streamRevision) };
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

/** Everything stored about the user, decrypted: view, user stream, and each device they have or had; null for an unknown user. */
export async function exportUser(exec: StreamExecutor, appId: string, userId: string): Promise<UserExportV1 | null> {
  const { state, stored: userEvents } = await exec.load(userDecider, userStream(appId, userId));
  if (!state) return null;
  const user = toUserView(state);
  const devices = await Promise.all(
    exportDeviceIds(user, userEvents).map(async (id) => {
      const linked = user.deviceIds.includes(id);
      const { state: current, stored } = await exec.load(deviceDecider, deviceStream(appId, id));
      const d = linked ? current : null;
      const events = deviceFactsFor(userId, stored, linked);
      return events.length || d ? { id, linked, device: d ? toDeviceView(d) : null, events: events.map(historyEntry) } : null;
    }),
  );
  return { user, userEvents: userEvents.map(historyEntry), devices: devices.filter((d) => d !== null) };
}

/** The user as the API shows it. */
export function toUserView(s: UserState): UserView {
  return { id: s.userId, appId: s.appId, traits: s.traits, unsubscribed: s.unsubscribed, topics: s.topics ?? {}, erased: s.erased, deviceIds: Object.keys(s.devices).sort(), revision: s.revision };
}
