import type { DevicePolicy, JsonObject, Provider, SealedTokenV1 } from '@pushledger/contracts';
import { eligibility, isUnregistered, planSend, type DeviceView, type EligibilityUser, type Message, type SkipReason } from '@pushledger/domain';
import { tokenHash } from '@pushledger/observability';
import { deviceViewOf, summaryView, type DeviceDoc, type UserDoc } from './documents';
import { runLimited, type Layout } from './generations';
import { decodeTraits, deviceDocId } from './keys';
import { OWNERLESS_REASONS } from './ownerless-counters';
import { segmentFilter } from './segments/compile-rules';
import type { SegmentRule } from './segments/segment-rules';

/** Who a send or campaign is for. `everyone` is every user of the app (anonymous devices are counted, never sent to). */
export type AudienceTarget =
  | { kind: 'segment'; rules: SegmentRule }
  | { kind: 'everyone' }
  | { kind: 'users'; userIds: string[] }
  | { kind: 'device'; deviceId: string }
  | { kind: 'token'; token: string };

export interface TargetOptions {
  /** Transactional pushes still reach unsubscribed users. */
  transactional: boolean;
  /** Users who turned this topic off are skipped (`topic_unsubscribed`). */
  topic?: string | null;
  /** The send's own policy for user targets; null: the app's. */
  devicePolicy: DevicePolicy | null;
  appPolicy: DevicePolicy;
  staleAfterDays: number;
  now: Date;
  /** The providers the app can send through; a device of another one is skipped with `no_credentials`. Absent: all. */
  providers?: readonly Provider[];
}

export interface TargetPair {
  /** Its token masked where the read models keep it sealed. */
  device: DeviceView;
  /** The device's token sealed with its key (libs/privacy), where the read models keep it so: what a sender passes on. */
  sealedToken?: SealedTokenV1 | null;
  /** The device's owner; null for a device or token target on an anonymous device. */
  user: { id: string; traits: JsonObject } | null;
}

export interface TargetStats {
  /** Users in the audience (matched by the segment, or listed and found). */
  users: number;
  targeted: number;
  /** Devices left out, by the domain's reason (plus `not_chosen` for the device policy). */
  skipped: Partial<Record<SkipReason, number>>;
  /** Listed users, or the device or token, that the read models do not know (or know as unregistered). */
  notFound: number;
}

/** The eligible (user, device) pairs, read with a cursor: memory stays bounded whatever the audience size. */
export interface TargetStream extends AsyncIterable<TargetPair> {
  /** Complete once the iteration has ended. */
  readonly stats: TargetStats;
}

const CURSOR_BATCH = 500;
/** What planning a user's devices reads: not the stream bookkeeping (`linkedDevices`, `deviceRevisions`) nor the segment-only fields. */
const USER_TARGETING_FIELDS = { appId: 1, userId: 1, traits: 1, unsubscribed: 1, topics: 1, erased: 1, devices: 1 } as const;
const LOOKUP_CONCURRENCY = 8;
/**
 * Users read ahead per partition before any is handed out. FerretDB 1.x holds a PostgreSQL connection for
 * every open cursor, so a cursor left open while a slow consumer sends (or after it was killed) pins one;
 * a partition up to this size (all of them at a million devices over 32 partitions) is read in one go and
 * its cursor closed before the first pair is yielded. Memory stays bounded by this, not by the audience.
 */
export const TARGET_READ_AHEAD = 20_000;

/** The documents of one query, read ahead in chunks of `readAhead`; the cursor is closed as soon as it is drained. */
async function* readAhead<T>(cursor: { next(): Promise<T | null>; close(): Promise<void> }, size: number): AsyncGenerator<T> {
  try {
    for (;;) {
      const chunk: T[] = [];
      while (chunk.length < size) {
        const doc = await cursor.next();
        if (doc === null) break;
        chunk.push(doc);
      }
      const drained = chunk.length < size;
      if (drained) await cursor.close();
      yield* chunk;
      if (drained) return;
    }
  } finally {
    await cursor.close();
  }
}

/** `findUser`: a user document by the user id in clear (see ReadModels.userDoc). */
export function targetStream(layout: Layout | null, appId: string, target: AudienceTarget, options: TargetOptions, findUser: (userId: string) => Promise<UserDoc | null>): TargetStream {
  const stats: TargetStats = { users: 0, targeted: 0, skipped: {}, notFound: 0 };
  const ctx = { now: options.now, staleAfterDays: options.staleAfterDays, providers: options.providers };
  const skip = (reason: SkipReason, n = 1) => {
    if (n > 0) stats.skipped[reason] = (stats.skipped[reason] ?? 0) + n;
  };
  const owner = (u: UserDoc, userId: string): EligibilityUser => ({ userId, unsubscribed: u.unsubscribed, topics: u.topics ?? {}, erased: u.erased });

  /** `asked`: the id the target named; else the document's (unknown for an erased user until a readable fact names them again). */
  function* planUser(u: UserDoc, asked?: string): Generator<TargetPair> {
    stats.users++;
    const userId = asked ?? u.userId;
    if (userId === null) {
      skip('erased', u.devices.length);
      return;
    }
    const candidates = u.devices.map((d) => summaryView(u.appId, userId, d));
    const message: Message = { to: { userId }, transactional: options.transactional, devicePolicy: options.devicePolicy, topic: options.topic ?? null };
    const plan = planSend(candidates, new Map([[userId, owner(u, userId)]]), message, options.appPolicy, ctx);
    for (const [reason, n] of Object.entries(plan.skipped)) skip(reason as SkipReason, n);
    const user = { id: userId, traits: decodeTraits(u.traits) };
    const sealed = new Map(u.devices.map((d) => [d.id, sealedTokenOf(d.sealedToken)]));
    for (const device of plan.targeted) {
      stats.targeted++;
      yield { device, user, sealedToken: sealed.get(device.id) };
    }
  }

  async function* planDevices(devices: DeviceDoc[], to: Message['to']): AsyncGenerator<TargetPair> {
    const owners = new Map<string, UserDoc>();
    for (const d of devices) {
      if (d.userId === null || owners.has(d.userId)) continue;
      const u = await findUser(d.userId);
      if (u) owners.set(d.userId, u);
    }
    const users = new Map([...owners].map(([id, u]) => [id, owner(u, id)]));
    const plan = planSend(devices.map(deviceViewOf), users, { to, transactional: options.transactional, devicePolicy: null, topic: options.topic ?? null }, options.appPolicy, ctx);
    for (const [reason, n] of Object.entries(plan.skipped)) skip(reason as SkipReason, n);
    const sealed = new Map(devices.map((d) => [d.id, sealedTokenOf(d.sealedToken)]));
    for (const device of plan.targeted) {
      stats.targeted++;
      const u = device.userId === null ? undefined : owners.get(device.userId);
      yield { device, user: u && device.userId !== null ? { id: device.userId, traits: decodeTraits(u.traits) } : null, sealedToken: sealed.get(device.id) };
    }
  }

  async function* run(): AsyncGenerator<TargetPair> {
    if (!layout) {
      if (target.kind === 'users') stats.notFound += new Set(target.userIds).size;
      if (target.kind === 'device' || target.kind === 'token') stats.notFound++;
      return;
    }
    switch (target.kind) {
      case 'segment':
      case 'everyone': {
        const filter = segmentFilter(appId, target.kind === 'segment' ? target.rules : null, ctx);
        for (const coll of layout.allUsers()) {
          for await (const u of readAhead(coll.find(filter, { projection: USER_TARGETING_FIELDS }).batchSize(CURSOR_BATCH), TARGET_READ_AHEAD)) yield* planUser(u as UserDoc);
        }
        if (target.kind === 'everyone') await countAnonymous();
        return;
      }
      case 'users': {
        const ids = [...new Set(target.userIds)];
        for (let i = 0; i < ids.length; i += CURSOR_BATCH) {
          const part = ids.slice(i, i + CURSOR_BATCH);
          const docs = await runLimited(
            part.map((id) => () => findUser(id)),
            LOOKUP_CONCURRENCY,
          );
          for (let k = 0; k < part.length; k++) {
            const u = docs[k];
            if (u) yield* planUser(u, part[k]);
            else stats.notFound++;
          }
        }
        return;
      }
      case 'device': {
        const id = deviceDocId(appId, target.deviceId);
        const d = await layout.devicesFor(id).findOne({ _id: id });
        if (!d || isUnregistered(d)) {
          stats.notFound++;
          return;
        }
        yield* planDevices([d], { deviceId: target.deviceId });
        return;
      }
      case 'token': {
        const hash = tokenHash(target.token);
        const found = (await Promise.all(layout.allDevices().map((c) => c.find({ appId, tokenHash: hash }).toArray()))).flat();
        // By hash alone: the documents may keep the token sealed.
        const devices = found;
        if (devices.length === 0) {
          stats.notFound++;
          return;
        }
        yield* planDevices(devices, { token: target.token });
        return;
      }
    }
  }

  /**
   * A broadcast names users, so a device nobody owns is skipped: counted under the domain's first reason (an
   * unregistered one not at all). The projector keeps these counts; a generation made before it did is read.
   */
  async function countAnonymous(): Promise<void> {
    const counters = layout!.ownerless();
    if (counters) {
      const counts = await counters.get(appId);
      for (const reason of OWNERLESS_REASONS) skip(reason, counts[reason]);
      return;
    }
    const message: Message = { to: { userId: '' }, transactional: options.transactional, devicePolicy: null };
    const projection = { id: 1, userId: 1, token: 1, status: 1, lastStatus: 1, pushEnabled: 1, lastSeenAt: 1 };
    for (const coll of layout!.allDevices()) {
      for await (const d of coll.find({ appId, userId: null, status: { $ne: 'unregistered' } }, { projection }).batchSize(CURSOR_BATCH)) {
        const verdict = eligibility(d as unknown as DeviceView, null, message, ctx);
        if (!verdict.eligible) skip(verdict.reason);
      }
    }
  }

  return { stats, [Symbol.asyncIterator]: () => run() };
}

const sealedTokenOf = (text: string | null | undefined): SealedTokenV1 | null => (text ? { $enc: text } : null);
