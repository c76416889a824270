import { StreamCategories } from '@pushledger/contracts';
import type { OpKind } from './chaos-harness';

/** What the checks read of a stored event; a slim copy of a StoredEvent is enough. */
export interface Fact {
  stream: string;
  type: string;
  eventId: string;
  data: unknown;
  metadata: { causationId?: unknown } | null | undefined;
}

/** What the checks read of a `users` read-model document (a UserDoc is one). */
export interface UserModelDoc {
  _id?: unknown;
  appId: string;
  userId: string | null;
  devices: { id: string }[];
  linkedDevices?: { id: string }[];
  deviceCount?: number;
}

/** The category of a stream name: `device`, `user`, `token`, `app`, `campaignsend`, ... (see libs/contracts streams.ts). */
export function streamKind(stream: string): string {
  const dash = stream.indexOf('-');
  return dash < 0 ? stream : stream.slice(0, dash);
}

const deviceIdOf = (data: unknown): string | null => {
  const id = (data as { deviceId?: unknown } | null)?.deviceId;
  return typeof id === 'string' ? id : null;
};

/**
 * One step of one command (its causation id) decides each fact at most once per stream. The device id is
 * part of the key because one step can legitimately write the same type for several devices to one stream
 * (an identify past maxDevicesPerUser unlinks several devices from the user). Event ids cannot find such a
 * repeat: they include the stream's length when decided, so a step decided twice gets new ids.
 */
export function repeatedFacts(events: Iterable<Fact>): { problems: string[]; streamsByKind: Record<string, number> } {
  const first = new Map<string, string>();
  const repeats = new Map<string, { fact: Fact; causationId: string; deviceId: string | null; eventIds: string[] }>();
  const streams = new Set<string>();
  const streamsByKind: Record<string, number> = {};
  for (const e of events) {
    if (!streams.has(e.stream)) {
      streams.add(e.stream);
      const kind = streamKind(e.stream);
      streamsByKind[kind] = (streamsByKind[kind] ?? 0) + 1;
    }
    const causationId = e.metadata?.causationId;
    if (typeof causationId !== 'string' || !causationId) continue;
    const deviceId = deviceIdOf(e.data);
    const key = JSON.stringify([e.stream, e.type, causationId, deviceId]);
    const earlier = first.get(key);
    if (earlier === undefined) {
      first.set(key, e.eventId);
      continue;
    }
    const repeat = repeats.get(key) ?? { fact: e, causationId, deviceId, eventIds: [earlier] };
    repeat.eventIds.push(e.eventId);
    repeats.set(key, repeat);
  }
  const problems = [...repeats.values()].map(
    ({ fact, causationId, deviceId, eventIds }) =>
      `duplicate: ${fact.type}${deviceId === null ? '' : ` of device ${deviceId}`} stored ${eventIds.length} times in ${fact.stream} by step ${causationId} (events ${eventIds.join(', ')})`,
  );
  return { problems, streamsByKind };
}

/** Stream kinds an acknowledged operation of each kind leaves behind (every one needs the app, created through its stream). */
const IMPLIED_KINDS: Record<OpKind, readonly string[]> = {
  register: [StreamCategories.app, StreamCategories.device, StreamCategories.token],
  identify: [StreamCategories.app, StreamCategories.device, StreamCategories.user],
  logout: [StreamCategories.app, StreamCategories.device],
  push: [StreamCategories.app, StreamCategories.device],
};

/** A check over streams of a kind that is not there proves nothing: the run must have written some. */
export function missingStreamKinds(ackedByKind: Partial<Record<OpKind, number>>, streamsByKind: Record<string, number>): string[] {
  const needed = new Map<string, string[]>();
  for (const [op, n] of Object.entries(ackedByKind) as [OpKind, number | undefined][]) {
    if (!n) continue;
    for (const kind of IMPLIED_KINDS[op] ?? []) needed.set(kind, [...(needed.get(kind) ?? []), `${n} ${op}`]);
  }
  return [...needed]
    .filter(([kind]) => !streamsByKind[kind])
    .map(([kind, ops]) => `no ${kind} stream in the store, yet acknowledged: ${ops.join(', ')}`);
}

/**
 * The `users` read model: each list names a device once, `deviceCount` is the length of `devices`, and a
 * device (the device streams say who owns it) is in the `devices` of one user of its app at most.
 */
export function userModelProblems(docs: Iterable<UserModelDoc>): string[] {
  const problems: string[] = [];
  const ownerOf = new Map<string, string>();
  for (const doc of docs) {
    const user = doc.userId ?? `(erased, document ${String(doc._id)})`;
    for (const [list, entries] of [['devices', doc.devices], ['linkedDevices', doc.linkedDevices ?? []]] as const) {
      const counts = new Map<string, number>();
      for (const { id } of entries) counts.set(id, (counts.get(id) ?? 0) + 1);
      for (const [id, n] of counts) if (n > 1) problems.push(`read model: user ${user} lists device ${id} ${n} times in ${list}`);
    }
    if (doc.deviceCount !== undefined && doc.deviceCount !== doc.devices.length) {
      problems.push(`read model: user ${user} has deviceCount ${doc.deviceCount} but lists ${doc.devices.length} devices`);
    }
    for (const id of new Set(doc.devices.map((d) => d.id))) {
      const key = `${doc.appId}\u0000${id}`;
      const owner = ownerOf.get(key);
      if (owner === undefined) ownerOf.set(key, user);
      else problems.push(`read model: device ${id} listed as owned by both ${owner} and ${user}`);
    }
  }
  return problems;
}
