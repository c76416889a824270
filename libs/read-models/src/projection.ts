import { randomBytes } from 'crypto';
import { deviceStream, parseStream, type DeviceEvent, type SealedTokenV1, type UserEvent } from '@pushledger/contracts';
import type { EventStore, StoredEvent } from '@pushledger/event-store';
import type { mongo } from 'mongoose';
import {
  deviceStateOf,
  emptyUserDoc,
  foldDeviceFact,
  foldUserFact,
  forgetOwner,
  forgetToken,
  isEmptyUserDoc,
  isWholeToken,
  removeDevice,
  summaryOfDoc,
  upsertDevice,
  withSealedToken,
  type DeviceDoc,
  type DeviceSummary,
  type UserDoc,
} from './documents';
import { boundedBulkWrite } from './bounded-bulk-write';
import { runLimited, type Layout } from './generations';
import { deviceDocId, isShreddingStore, tokenSealerOf, userDocId, userKeysOf, type TokenSealer, type UserKeyResolver } from './keys';
import { ownerlessChanges, type OwnerlessChange } from './ownerless-counters';

/** Streams the read models follow. */
export const PROJECTED_STREAM_PREFIXES = ['device-', 'user-'];

export type StreamReader = Pick<EventStore, 'readStream'>;

export interface ProjectionOptions {
  /** Documents kept in memory between batches (clean ones are evicted beyond this), and user keys remembered. Default 100,000. */
  cacheSize?: number;
  /**
   * The collections are fresh and this is their only writer (a rebuild): a document not in memory and
   * never written does not exist, so nothing is read back.
   */
  authoritative?: boolean;
  /** Reads and bulk writes in flight. Default 8. */
  concurrency?: number;
  /** The stored user-stream key of a user id (device facts name owners in clear). Default: `userKeysOf(store)`. */
  userKey?: UserKeyResolver;
  /** An erasure shreds (see forgetOwner); default: when the store is a shredding one (libs/privacy). */
  erasureShreds?: boolean;
  /** Keeps tokens sealed with their devices' keys (and shown masked); default: the shredding store's `sealTokens`, else none. */
  tokenSealer?: TokenSealer | null;
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

type UserOp =
  | { kind: 'fact'; stream: string; revision: number; event: UserEvent }
  | { kind: 'upsert'; userId: string; summary: DeviceSummary; sameRevision?: boolean }
  | { kind: 'remove'; userId: string; deviceId: string; rev: number };

interface Slot<D> {
  id: string;
  appId: string;
  /** Device id, or the user stream's stored key. */
  key: string;
  /** What the database holds, as far as we know (null: no document). */
  stored: D | null;
  /** The state with this batch's changes. */
  doc: D | null;
  dirty: boolean;
  /** Users only: changes since `stored`, replayed on a fresh read after a failed compare-and-set. */
  ops: UserOp[];
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
  private readonly userKey: UserKeyResolver;
  private readonly userKeys = new Map<string, string>();

  constructor(
    readonly layout: Layout,
    private readonly streams: StreamReader,
    private readonly options: ProjectionOptions = {},
  ) {
    this.cacheSize = options.cacheSize ?? 100_000;
    this.concurrency = options.concurrency ?? 8;
    this.userKey = options.userKey ?? userKeysOf(streams);
    this.shreds = options.erasureShreds ?? isShreddingStore(streams);
    this.sealer = options.tokenSealer !== undefined ? options.tokenSealer : tokenSealerOf(streams);
  }
  private readonly shreds: boolean;
  private readonly sealer: TokenSealer | null;
  /** The batch's tokens, sealed before it is folded: one key lookup per app and batch. */
  private sealedTokens = new Map<string, SealedTokenV1>();
  /** Changes to the ownerless-device counters since the last flush, per app. */
  private ownerless = new Map<string, OwnerlessChange[]>();

  private async keyOf(appId: string, userId: string): Promise<string> {
    const memo = `${appId}\u0000${userId}`;
    let key = this.userKeys.get(memo);
    if (key === undefined) {
      if (this.userKeys.size > this.cacheSize) this.userKeys.clear();
      key = await this.userKey(appId, userId);
      this.userKeys.set(memo, key);
    }
    return key;
  }

  /** Documents changed in memory and not yet written. */
  get pending(): number {
    let n = 0;
    for (const s of this.devices.values()) if (s.dirty) n++;
    for (const s of this.users.values()) if (s.dirty) n++;
    return n;
  }

  /**
   * Folds the facts in store order. Everything they can touch is read first, in parallel: their devices and
   * users, every owner those devices have or a fact names, and the devices an erasure covers.
   */
  async apply(events: readonly StoredEvent[]): Promise<void> {
    const facts = events.filter((e) => e.stream.startsWith('device-') || e.stream.startsWith('user-'));
    const devices = new Map<string, string>();
    const owners = new Map<string, { appId: string; userId: string }>();
    const users = new Map<string, string>();
    const owner = (appId: string, userId: string | null) => {
      if (userId !== null) owners.set(`${appId}\u0000${userId}`, { appId, userId });
    };
    for (const e of facts) {
      const { appId, id } = parseStream(e.stream)!;
      if (e.stream.startsWith('device-')) {
        devices.set(deviceDocId(appId, id), e.stream);
        owner(appId, piiUserId(e.data));
      } else {
        users.set(userDocId(appId, id), e.stream);
        if (this.shreds) for (const d of erasedDeviceIds(e)) devices.set(deviceDocId(appId, d), deviceStream(appId, d));
      }
    }
    await this.prepare(this.devices, devices, (id) => this.layout.devicesFor(id));
    for (const docId of devices.keys()) {
      const slot = this.devices.get(docId)!;
      owner(slot.appId, slot.doc?.userId ?? null);
    }
    for (const { appId, userId } of owners.values()) {
      const key = await this.keyOf(appId, userId);
      users.set(userDocId(appId, key), `user-${appId}-${key}`);
    }
    await this.prepare(this.users, users, (id) => this.layout.usersFor(id));
    const summarised = new Map<string, string>();
    for (const e of facts) {
      if (!this.shreds || e.type !== 'UserErased' || !e.stream.startsWith('user-')) continue;
      const { appId, id } = parseStream(e.stream)!;
      for (const d of this.users.get(userDocId(appId, id))?.doc?.devices ?? []) summarised.set(deviceDocId(appId, d.id), deviceStream(appId, d.id));
    }
    await this.prepare(this.devices, summarised, (id) => this.layout.devicesFor(id));
    await this.sealBatchTokens(facts);

    try {
      for (const e of facts) {
        if (e.stream.startsWith('device-')) await this.applyDeviceFact(e);
        else await this.applyUserFact(e);
      }
    } finally {
      this.sealedTokens = new Map();
    }
  }

  private async sealBatchTokens(facts: readonly StoredEvent[]): Promise<void> {
    if (!this.sealer) return;
    const byApp = new Map<string, Map<string, { deviceId: string; token: string }>>();
    for (const e of facts) {
      const token = (e.data as { token?: unknown } | null)?.token;
      // The facts that give a device its token (evolveDevice); the others only name the one it has.
      if (!e.stream.startsWith('device-') || !TOKEN_SETTING_FACTS.has(e.type) || typeof token !== 'string') continue;
      const { appId, id } = parseStream(e.stream)!;
      const items = byApp.get(appId) ?? new Map();
      items.set(tokenSlot(id, token), { deviceId: id, token });
      byApp.set(appId, items);
    }
    for (const [appId, items] of byApp) {
      const list = [...items.values()];
      const sealed = await this.sealer(appId, list);
      list.forEach((item, i) => this.sealedTokens.set(`${appId}\u0000${tokenSlot(item.deviceId, item.token)}`, sealed[i]));
    }
  }

  /** A device document whose token is whole keeps it sealed and shows it masked (with a sealer). */
  private async withTokenSealed(d: DeviceDoc): Promise<DeviceDoc> {
    if (!this.sealer || !isWholeToken(d.token)) return d;
    const sealed = this.sealedTokens.get(`${d.appId}\u0000${tokenSlot(d.id, d.token)}`) ?? (await this.sealer(d.appId, [{ deviceId: d.id, token: d.token }]))[0];
    return withSealedToken(d, sealed);
  }

  /** Writes the counters, then every changed document (users, then devices). */
  async flush(): Promise<void> {
    const users = [...this.users.values()].filter((s) => s.dirty);
    const devices = [...this.devices.values()].filter((s) => s.dirty);
    await this.writeOwnerless();
    await this.writeUsers(users);
    await this.writeDevices(devices);
    this.evict(this.devices);
    this.evict(this.users);
  }

  // ---------------------------------------------------------------- devices

  private noteOwnerless(appId: string, before: DeviceDoc | null, after: DeviceDoc | null, position: bigint): void {
    const changes = ownerlessChanges(before, after, position);
    if (changes.length) this.ownerless.set(appId, [...(this.ownerless.get(appId) ?? []), ...changes]);
  }

  /** Before the documents: a batch replayed after a crash between the two then finds its changes counted (see OwnerlessCounters). */
  private async writeOwnerless(): Promise<void> {
    const counters = this.layout.ownerless();
    if (counters) for (const [appId, changes] of this.ownerless) await counters.add(appId, changes);
    this.ownerless = new Map();
  }

  private async applyDeviceFact(e: StoredEvent): Promise<void> {
    this.stats.events++;
    const { appId, id } = parseStream(e.stream)!;
    const slot = await this.slot(this.devices, deviceDocId(appId, id), e.stream, (x) => this.layout.devicesFor(x));
    const revision = Number(e.streamRevision) + 1;
    const current = slot.doc?.revision ?? 0;
    if (revision <= current) {
      this.stats.duplicates++;
      return;
    }
    if (revision > current + 1) {
      this.stats.gapsRepaired++;
      const missing = await this.streams.readStream(e.stream, { fromRevision: BigInt(current), maxCount: revision - 1 - current });
      for (const m of missing) await this.foldDevice(slot, m);
      if ((slot.doc?.revision ?? 0) !== revision - 1) throw new Error(`${e.stream}: the store has no revision ${current} to ${revision - 2}`);
    }
    await this.foldDevice(slot, e);
  }

  /** Folds one device fact, then puts the device's summary in its owner's document (and takes it out of the previous owner's). */
  private async foldDevice(slot: Slot<DeviceDoc>, e: StoredEvent): Promise<void> {
    const was = slot.doc?.userId ?? null;
    const folded = foldDeviceFact(slot.doc, { type: e.type, data: e.data } as DeviceEvent, Number(e.streamRevision) + 1, e.position);
    if (!folded || folded === slot.doc) return;
    const next = await this.withTokenSealed(folded);
    this.noteOwnerless(slot.appId, slot.doc, next, e.position);
    slot.doc = next;
    slot.dirty = true;
    const after = deviceStateOf(next);
    if (after.userId !== null) await this.applyUserOp(await this.ownerSlot(slot.appId, after.userId), { kind: 'upsert', userId: after.userId, summary: summaryOfDoc(next) }, true);
    if (was !== null && was !== after.userId) await this.applyUserOp(await this.ownerSlot(slot.appId, was), { kind: 'remove', userId: was, deviceId: slot.key, rev: after.revision }, true);
  }

  private async writeDevices(slots: Slot<DeviceDoc>[]): Promise<void> {
    await this.bulk(
      slots,
      (id) => this.layout.devicesFor(id),
      (s) =>
        s.stored
          ? { replaceOne: { filter: { _id: s.id, revision: s.stored.revision, userId: s.stored.userId, tokenHash: s.stored.tokenHash }, replacement: s.doc! } }
          : { insertOne: { document: s.doc! } },
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
      // At one revision the only difference can be an erasure's forgetting, which never goes back.
      const forgotten = (x: DeviceDoc) => (x.userId === null || x.userId === s.doc!.userId) && (x.tokenHash === null || x.tokenHash === s.doc!.tokenHash);
      if (db && (db.revision > s.doc!.revision || (db.revision === s.doc!.revision && forgotten(db)))) {
        if (db.revision > s.doc!.revision) this.stats.conflicts++;
        s.doc = db;
        return;
      }
      this.stats.conflicts++;
      try {
        const res = db ? await coll.replaceOne({ _id: s.id, revision: db.revision, userId: db.userId, tokenHash: db.tokenHash }, s.doc!) : await coll.insertOne(s.doc!);
        if (!('matchedCount' in res) || res.matchedCount === 1) return;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
    }
    throw new Error(`device document ${s.id}: gave up after ${MAX_CONFLICT_ROUNDS} conflicting writes`);
  }

  // ---------------------------------------------------------------- users

  private async applyUserFact(e: StoredEvent): Promise<void> {
    this.stats.events++;
    const { appId, id } = parseStream(e.stream)!;
    const slot = await this.slot(this.users, userDocId(appId, id), e.stream, (x) => this.layout.usersFor(x));
    const covered = new Set([...erasedDeviceIds(e), ...(slot.doc?.devices ?? []).map((d) => d.id)]);
    await this.applyUserOp(slot, { kind: 'fact', stream: e.stream, revision: Number(e.streamRevision) + 1, event: { type: e.type, data: e.data } as UserEvent }, true);
    if (e.type !== 'UserErased' || !this.shreds) return;
    // See forgetOwner. Also when the erasure is a duplicate: the device documents may be the part a crash left unwritten.
    const listed = new Set(erasedDeviceIds(e));
    for (const deviceId of covered) {
      const device = await this.slot(this.devices, deviceDocId(appId, deviceId), deviceStream(appId, deviceId), (x) => this.layout.devicesFor(x));
      if (!device.doc) continue;
      let next = listed.has(deviceId) ? forgetToken(device.doc, e.position) : device.doc;
      if (next.userId !== null && (await this.keyOf(appId, next.userId)) === id) next = forgetOwner(next, e.position);
      if (next === device.doc) continue;
      this.noteOwnerless(appId, device.doc, next, e.position);
      device.doc = next;
      device.dirty = true;
      // A listed device that moved to someone else keeps its owner but loses its token there too.
      if (next.userId !== null) {
        await this.applyUserOp(await this.ownerSlot(appId, next.userId), { kind: 'upsert', userId: next.userId, summary: summaryOfDoc(next), sameRevision: true }, true);
      }
    }
  }

  /** The document of a device's owner (named in clear by the device facts). */
  private async ownerSlot(appId: string, userId: string): Promise<Slot<UserDoc>> {
    const key = await this.keyOf(appId, userId);
    return this.slot(this.users, userDocId(appId, key), `user-${appId}-${key}`, (x) => this.layout.usersFor(x));
  }

  private async applyUserOp(slot: Slot<UserDoc>, op: UserOp, record: boolean): Promise<void> {
    const doc = slot.doc ?? emptyUserDoc(slot.appId, op.kind === 'fact' ? null : op.userId, slot.key);
    let next = doc;
    switch (op.kind) {
      case 'upsert':
        next = upsertDevice(doc, op.summary, op.sameRevision);
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
          for (const m of missing) next = foldUserFact(next, { type: m.type, data: m.data } as UserEvent, Number(m.streamRevision) + 1, this.shreds);
          if (next.revision !== op.revision - 1) throw new Error(`${op.stream}: the store has no revision ${doc.revision} to ${op.revision - 2}`);
        }
        next = foldUserFact(next, op.event, op.revision, this.shreds);
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
    landed: (s: Slot<D>, db: D | null) => boolean = (s, db) => {
      const [a, b] = [db as unknown as DeviceDoc | null, s.doc as unknown as DeviceDoc];
      return a !== null && a.revision === b.revision && a.userId === b.userId && a.tokenHash === b.tokenHash;
    },
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
        const res = await boundedBulkWrite(coll, ops);
        const other = res.writeErrors.find((w) => w.code !== 11000);
        if (other) throw new Error(`read-model write failed: ${other.errmsg ?? `code ${other.code}`}`);
        if (!res.writeErrors.length && res.insertedCount + res.matchedCount + res.deletedCount === ops.length) return;
        for (const s of part) {
          const db = await coll.findOne({ _id: s.id } as mongo.Filter<D>);
          if (!landed(s, db as D | null)) await resolve(s);
        }
      }),
    );
    await runLimited(jobs, this.concurrency);
  }

  /** One slot, read now if it is not in memory (a fact the prefetch could not foresee: one read from the store's gap). */
  private async slot<D extends { _id: string }>(map: Map<string, Slot<D>>, docId: string, stream: string, collectionFor: (id: string) => mongo.Collection<D>): Promise<Slot<D>> {
    if (!map.has(docId)) await this.prepare(map, new Map([[docId, stream]]), collectionFor);
    return map.get(docId)!;
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

const isDuplicateKey = (err: unknown): boolean => (err as { code?: number }).code === 11000;

/** The user a fact's personal data names, when it opens. */
function piiUserId(data: unknown): string | null {
  const userId = (data as { pii?: { userId?: unknown } } | null)?.pii?.userId;
  return typeof userId === 'string' ? userId : null;
}

/** The devices an erasure lists (outside its personal data, so they read after the erasure too). */
function erasedDeviceIds(e: StoredEvent): string[] {
  if (e.type !== 'UserErased') return [];
  const ids = (e.data as { deviceIds?: unknown } | null)?.deviceIds;
  return Array.isArray(ids) ? ids.filter((x): x is string => typeof x === 'string') : [];
}

const TOKEN_SETTING_FACTS: ReadonlySet<string> = new Set(['TokenRegistered', 'TokenRefreshed']);

/** One device's token, as a key of the batch's sealed tokens. */
const tokenSlot = (deviceId: string, token: string): string => `${deviceId}\u0000${token}`;

function chunk<T>(list: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}
