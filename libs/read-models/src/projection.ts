import { randomBytes } from 'crypto';
import { parseStream, type DeviceEvent, type UserEvent } from '@pushledger/contracts';
import { evolveDevice, evolveUser } from '@pushledger/domain';
import type { EventStore, StoredEvent } from '@pushledger/event-store';
import type { mongo } from 'mongoose';
import {
  deviceDocOf,
  deviceStateOf,
  emptyUserDoc,
  isEmptyUserDoc,
  removeDevice,
  summaryOf,
  upsertDevice,
  userStateOf,
  withUserState,
  type DeviceDoc,
  type DeviceSummary,
  type UserDoc,
} from './documents';
import { runLimited, type Layout } from './generations';
import { deviceDocId, userDocId } from './keys';

/** Streams the read models follow. */
export const PROJECTED_STREAM_PREFIXES = ['device-', 'user-'];

export type StreamReader = Pick<EventStore, 'readStream'>;

export interface ProjectionOptions {
  /** Documents kept in memory between batches (clean ones are evicted beyond this). Default 100,000. */
  cacheSize?: number;
  /**
   * The collections are fresh and this is their only writer (a rebuild): a document not in memory and
   * never written does not exist, so nothing is read back.
   */
  authoritative?: boolean;
  /** Reads and bulk writes in flight. Default 8. */
  concurrency?: number;
}

export interface ProjectionStats {
  events: number;
  duplicates: number;
  gapsRepaired: number;
  conflicts: number;
  loads: number;
  deviceWrites: number;
  userWrites: number;
}

type UserOp = { kind: 'fact'; stream: string; revision: number; event: UserEvent } | { kind: 'upsert'; summary: DeviceSummary } | { kind: 'remove'; deviceId: string; rev: number };

interface Slot<D> {
  id: string;
  appId: string;
  /** Device or user id. */
  key: string;
  /** What the database holds, as far as we know (null: no document). */
  stored: D | null;
  /** The state with this batch's changes. */
  doc: D | null;
  dirty: boolean;
  /** Users only: changes since `stored`, replayed on a fresh read after a failed compare-and-set. */
  ops: UserOp[];
}

interface Derived {
  appId: string;
  userId: string;
  op: UserOp;
}

const MAX_CONFLICT_ROUNDS = 20;
const nonce = (): string => randomBytes(8).toString('hex');

/**
 * Folds device and user facts into the documents of one generation, with the domain's own `evolve`.
 *
 * Idempotent and order-safe per document: each document holds the stream revision it reflects; a fact
 * at or below it changes nothing (duplicate), a fact beyond the next one means facts are missing, which
 * are then read from the store and folded first. A device's summary in its owner's user document carries
 * the device revision too, so a late or repeated summary never replaces a newer one.
 *
 * `apply` changes documents in memory; `flush` writes them: user documents first, then devices, each
 * with compare-and-set (devices on `revision`, users on the nonce `v`: two sources write them). A device
 * fact's user-side effects are therefore stored before the device document moves past that fact, so a
 * crash anywhere re-derives them on replay. The caller saves its checkpoint after `flush`.
 */
export class Projection {
  private readonly devices = new Map<string, Slot<DeviceDoc>>();
  private readonly users = new Map<string, Slot<UserDoc>>();
  /** Authoritative mode: written, then dropped from memory (so it must be read back when needed). */
  private readonly evicted = new Set<string>();
  readonly stats: ProjectionStats = { events: 0, duplicates: 0, gapsRepaired: 0, conflicts: 0, loads: 0, deviceWrites: 0, userWrites: 0 };
  private readonly cacheSize: number;
  private readonly concurrency: number;

  constructor(
    readonly layout: Layout,
    private readonly streams: StreamReader,
    private readonly options: ProjectionOptions = {},
  ) {
    this.cacheSize = options.cacheSize ?? 100_000;
    this.concurrency = options.concurrency ?? 8;
  }

  /** Documents changed in memory and not yet written. */
  get pending(): number {
    let n = 0;
    for (const s of this.devices.values()) if (s.dirty) n++;
    for (const s of this.users.values()) if (s.dirty) n++;
    return n;
  }

  async apply(events: readonly StoredEvent[]): Promise<void> {
    const deviceEvents = events.filter((e) => e.stream.startsWith('device-'));
    const userEvents = events.filter((e) => e.stream.startsWith('user-'));

    // Always read (unless authoritative): a device document already past these facts must make them duplicates,
    // else their summaries would be re-derived from an older state.
    const deviceTargets = new Map<string, string>();
    for (const e of deviceEvents) {
      const { appId, id } = parseStream(e.stream)!;
      deviceTargets.set(deviceDocId(appId, id), e.stream);
    }
    await this.prepare(this.devices, deviceTargets, (id) => this.layout.devicesFor(id));
    const derived: Derived[] = [];
    for (const e of deviceEvents) await this.applyDeviceFact(e, derived);

    const userTargets = new Map<string, string>();
    for (const e of userEvents) {
      const { appId, id } = parseStream(e.stream)!;
      userTargets.set(userDocId(appId, id), e.stream);
    }
    for (const d of derived) userTargets.set(userDocId(d.appId, d.userId), `user-${d.appId}-${d.userId}`);
    await this.prepare(this.users, userTargets, (id) => this.layout.usersFor(id));
    // User facts and device summaries touch disjoint fields of a user document, so their order does not matter.
    for (const e of userEvents) {
      const { appId, id } = parseStream(e.stream)!;
      this.stats.events++;
      await this.applyUserOp(this.users.get(userDocId(appId, id))!, { kind: 'fact', stream: e.stream, revision: Number(e.streamRevision) + 1, event: { type: e.type, data: e.data } as UserEvent }, true);
    }
    for (const d of derived) await this.applyUserOp(this.users.get(userDocId(d.appId, d.userId))!, d.op, true);
  }

  /** Writes every changed document (users, then devices). */
  async flush(): Promise<void> {
    const users = [...this.users.values()].filter((s) => s.dirty);
    const devices = [...this.devices.values()].filter((s) => s.dirty);
    await this.writeUsers(users);
    await this.writeDevices(devices);
    this.evict(this.devices);
    this.evict(this.users);
  }

  // ---------------------------------------------------------------- devices

  private async applyDeviceFact(e: StoredEvent, derived: Derived[]): Promise<void> {
    this.stats.events++;
    const { appId, id } = parseStream(e.stream)!;
    const slot = this.devices.get(deviceDocId(appId, id))!;
    const revision = Number(e.streamRevision) + 1;
    const current = slot.doc?.revision ?? 0;
    if (revision <= current) {
      this.stats.duplicates++;
      return;
    }
    if (revision > current + 1) {
      this.stats.gapsRepaired++;
      const missing = await this.streams.readStream(e.stream, { fromRevision: BigInt(current), maxCount: revision - 1 - current });
      for (const m of missing) this.foldDevice(slot, m, derived);
      if ((slot.doc?.revision ?? 0) !== revision - 1) throw new Error(`${e.stream}: the store has no revision ${current} to ${revision - 2}`);
    }
    this.foldDevice(slot, e, derived);
  }

  private foldDevice(slot: Slot<DeviceDoc>, e: StoredEvent, derived: Derived[]): void {
    const before = slot.doc ? deviceStateOf(slot.doc) : null;
    const evolved = evolveDevice(before, { type: e.type, data: e.data } as DeviceEvent);
    if (!evolved) return;
    // Pinned to the stream, so a fact type this code does not know still counts as folded.
    const after = { ...evolved, revision: Number(e.streamRevision) + 1 };
    slot.doc = deviceDocOf(after);
    slot.dirty = true;
    const was = before?.userId ?? null;
    if (after.userId !== null) derived.push({ appId: slot.appId, userId: after.userId, op: { kind: 'upsert', summary: summaryOf(after) } });
    if (was !== null && was !== after.userId) derived.push({ appId: slot.appId, userId: was, op: { kind: 'remove', deviceId: slot.key, rev: after.revision } });
  }

  private async writeDevices(slots: Slot<DeviceDoc>[]): Promise<void> {
    await this.bulk(
      slots,
      (id) => this.layout.devicesFor(id),
      (s) => (s.stored ? { replaceOne: { filter: { _id: s.id, revision: s.stored.revision }, replacement: s.doc! } } : { insertOne: { document: s.doc! } }),
      (s) => this.resolveDevice(s),
    );
    for (const s of slots) {
      s.stored = s.doc;
      s.dirty = false;
    }
    this.stats.deviceWrites += slots.length;
  }

  /** After a failed compare-and-set: a document at or beyond ours wins (it folds more facts); else ours replaces it. */
  private async resolveDevice(s: Slot<DeviceDoc>): Promise<void> {
    const coll = this.layout.devicesFor(s.id);
    for (let round = 0; round < MAX_CONFLICT_ROUNDS; round++) {
      const db = await coll.findOne({ _id: s.id });
      if (db && db.revision >= s.doc!.revision) {
        if (db.revision > s.doc!.revision) this.stats.conflicts++;
        s.doc = db;
        return;
      }
      this.stats.conflicts++;
      try {
        const res = db ? await coll.replaceOne({ _id: s.id, revision: db.revision }, s.doc!) : await coll.insertOne(s.doc!);
        if (!('matchedCount' in res) || res.matchedCount === 1) return;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
    }
    throw new Error(`device document ${s.id}: gave up after ${MAX_CONFLICT_ROUNDS} conflicting writes`);
  }

  // ---------------------------------------------------------------- users

  private async applyUserOp(slot: Slot<UserDoc>, op: UserOp, record: boolean): Promise<void> {
    const doc = slot.doc ?? emptyUserDoc(slot.appId, slot.key);
    let next = doc;
    switch (op.kind) {
      case 'upsert':
        next = upsertDevice(doc, op.summary);
        break;
      case 'remove':
        next = removeDevice(doc, op.deviceId, op.rev);
        break;
      case 'fact': {
        if (op.revision <= doc.revision) {
          if (record) this.stats.duplicates++;
          break;
        }
        if (op.revision > doc.revision + 1) {
          this.stats.gapsRepaired++;
          const missing = await this.streams.readStream(op.stream, { fromRevision: BigInt(doc.revision), maxCount: op.revision - 1 - doc.revision });
          for (const m of missing) next = foldUser(next, { type: m.type, data: m.data } as UserEvent, Number(m.streamRevision) + 1);
          if (next.revision !== op.revision - 1) throw new Error(`${op.stream}: the store has no revision ${doc.revision} to ${op.revision - 2}`);
        }
        next = foldUser(next, op.event, op.revision);
        break;
      }
    }
    if (record) slot.ops.push(op);
    if (next !== doc) {
      slot.doc = next;
      slot.dirty = true;
    }
  }

  private async writeUsers(slots: Slot<UserDoc>[]): Promise<void> {
    const writes = new Map<Slot<UserDoc>, UserDoc | null>();
    for (const s of slots) writes.set(s, s.doc && !isEmptyUserDoc(s.doc) ? { ...s.doc, v: nonce() } : null);
    const active = slots.filter((s) => writes.get(s) !== null || s.stored !== null);
    await this.bulk(
      active,
      (id) => this.layout.usersFor(id),
      (s) => {
        const next = writes.get(s)!;
        if (next === null) return { deleteOne: { filter: { _id: s.id, v: s.stored!.v } } };
        return s.stored ? { replaceOne: { filter: { _id: s.id, v: s.stored.v }, replacement: next } } : { insertOne: { document: next } };
      },
      async (s) => writes.set(s, await this.resolveUser(s)),
      (s, db) => (writes.get(s) === null ? db === null : db?.v === writes.get(s)!.v),
    );
    for (const s of slots) {
      const written = writes.get(s) ?? null;
      s.stored = written;
      s.doc = written;
      s.ops = [];
      s.dirty = false;
    }
    this.stats.userWrites += active.length;
  }

  /** After a failed compare-and-set: read what is there, replay this batch's changes on it, try again. */
  private async resolveUser(s: Slot<UserDoc>): Promise<UserDoc | null> {
    const coll = this.layout.usersFor(s.id);
    for (let round = 0; round < MAX_CONFLICT_ROUNDS; round++) {
      this.stats.conflicts++;
      const db = await coll.findOne({ _id: s.id });
      s.stored = db;
      s.doc = db;
      for (const op of s.ops) await this.applyUserOp(s, op, false);
      const next = s.doc && !isEmptyUserDoc(s.doc) ? { ...s.doc, v: nonce() } : null;
      try {
        if (next === null) {
          if (!db) return null;
          if ((await coll.deleteOne({ _id: s.id, v: db.v })).deletedCount === 1) return null;
        } else if (!db) {
          await coll.insertOne(next);
          return next;
        } else if ((await coll.replaceOne({ _id: s.id, v: db.v }, next)).matchedCount === 1) {
          return next;
        }
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
    }
    throw new Error(`user document ${s.id}: gave up after ${MAX_CONFLICT_ROUNDS} conflicting writes`);
  }

  // ---------------------------------------------------------------- shared

  /**
   * One unordered bulkWrite per collection. When the counts show that a compare-and-set did not match (or an
   * insert met an existing document), every document of that bulk is checked (`landed`) and the ones that
   * did not land go through `resolve`. That is rare: it takes two writers, or a replay after a crash.
   */
  private async bulk<D extends { _id: string }>(
    slots: Slot<D>[],
    collectionFor: (id: string) => mongo.Collection<D>,
    opFor: (s: Slot<D>) => mongo.AnyBulkWriteOperation<D>,
    resolve: (s: Slot<D>) => Promise<unknown>,
    landed: (s: Slot<D>, db: D | null) => boolean = (s, db) => db !== null && (db as unknown as DeviceDoc).revision === (s.doc as unknown as DeviceDoc).revision,
  ): Promise<void> {
    const groups = new Map<string, { coll: mongo.Collection<D>; slots: Slot<D>[] }>();
    for (const s of slots) {
      const coll = collectionFor(s.id);
      const g = groups.get(coll.collectionName) ?? { coll, slots: [] };
      g.slots.push(s);
      groups.set(coll.collectionName, g);
    }
    const jobs = [...groups.values()].flatMap(({ coll, slots: all }) =>
      chunk(all, 1000).map((part) => async () => {
        const ops = part.map(opFor);
        let clean: boolean;
        try {
          const res = await coll.bulkWrite(ops, { ordered: false });
          clean = res.insertedCount + res.matchedCount + res.deletedCount === ops.length;
        } catch (err) {
          const writeErrors = (err as { writeErrors?: { code?: number }[] }).writeErrors;
          if (!writeErrors || writeErrors.some((w) => w.code !== 11000)) throw err;
          clean = false;
        }
        if (clean) return;
        for (const s of part) {
          const db = await coll.findOne({ _id: s.id } as mongo.Filter<D>);
          if (!landed(s, db as D | null)) await resolve(s);
        }
      }),
    );
    await runLimited(jobs, this.concurrency);
  }

  /** Puts a slot for each wanted document in memory (docId → a stream of that document's app and id). */
  private async prepare<D extends { _id: string }>(map: Map<string, Slot<D>>, wanted: Map<string, string>, collectionFor: (id: string) => mongo.Collection<D>): Promise<void> {
    const toLoad: { docId: string; stream: string }[] = [];
    for (const [docId, stream] of wanted) {
      const slot = map.get(docId);
      if (slot) {
        map.delete(docId);
        map.set(docId, slot);
      } else if (this.options.authoritative && !this.evicted.has(docId)) {
        map.set(docId, this.newSlot<D>(docId, stream, null));
      } else {
        toLoad.push({ docId, stream });
      }
    }
    const loaded = await runLimited(
      toLoad.map((w) => () => collectionFor(w.docId).findOne({ _id: w.docId } as mongo.Filter<D>)),
      this.concurrency,
    );
    toLoad.forEach((w, i) => map.set(w.docId, this.newSlot(w.docId, w.stream, (loaded[i] as D | null) ?? null)));
    this.stats.loads += toLoad.length;
  }

  private newSlot<D>(docId: string, stream: string, stored: D | null): Slot<D> {
    const { appId, id } = parseStream(stream)!;
    return { id: docId, appId, key: id, stored, doc: stored, dirty: false, ops: [] };
  }

  private evict<D>(map: Map<string, Slot<D>>): void {
    if (map.size <= this.cacheSize) return;
    const target = Math.floor(this.cacheSize * 0.9);
    for (const [id, slot] of map) {
      if (map.size <= target) break;
      if (slot.dirty) continue;
      map.delete(id);
      if (this.options.authoritative) this.evicted.add(id);
    }
  }
}

function foldUser(doc: UserDoc, event: UserEvent, revision: number): UserDoc {
  const state = { ...evolveUser(userStateOf(doc), event), revision };
  return withUserState(doc, state);
}

const isDuplicateKey = (err: unknown): boolean => (err as { code?: number }).code === 11000;

function chunk<T>(list: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}
