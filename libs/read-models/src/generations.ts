import { randomBytes } from 'crypto';
import type mongoose from 'mongoose';
import type { mongo } from 'mongoose';
import type { DeviceDoc, UserDoc } from './documents';
import { partitionOf, positionOf, positionText } from './keys';
import { OwnerlessCounters } from './ownerless-counters';

/**
 * A generation is one complete set of read-model collections, filled from the event store from position
 * 0. Readers and the projector use the one the `active` pointer names; a rebuild fills a new generation
 * while the active one keeps serving, then moves the pointer (one document: an atomic switch).
 *
 * Each generation splits devices and users over `partitions` collections by a hash of the document id.
 * On MongoDB one partition is right (indexes make point reads cheap). FerretDB 1.x on PostgreSQL uses no
 * index for any query, not even `_id` (every read and conditional write scans its collection), so there
 * the projector's per-event reads and writes cost O(collection size); partitions divide that.
 */
export interface Generation {
  id: string;
  partitions: number;
  /** Its projector keeps ownerless-device counters (generations made before them have none: targeting reads the devices). */
  ownerlessCounted?: boolean;
}

export interface GenerationRecord extends Generation {
  _id: string;
  /** Last store position whose effects are written (fixed-width text, see positionText). */
  position: string;
  createdAt: string;
  activatedAt: string | null;
}

interface ActivePointer {
  _id: 'active';
  generation: string;
  partitions: number;
  ownerlessCounted?: boolean;
  activatedAt: string;
}

type MetaDoc = GenerationRecord | ActivePointer;

export const META_COLLECTION = 'read_models';
export type Db = mongo.Db;

/** Collection names and routing for one generation. */
export class Layout {
  constructor(
    readonly db: Db,
    readonly generation: Generation,
  ) {}

  deviceCollectionName(partition: number): string {
    return this.name('devices', partition);
  }
  userCollectionName(partition: number): string {
    return this.name('users', partition);
  }
  devicesFor(docId: string): mongo.Collection<DeviceDoc> {
    return this.db.collection<DeviceDoc>(this.deviceCollectionName(partitionOf(docId, this.generation.partitions)));
  }
  usersFor(docId: string): mongo.Collection<UserDoc> {
    return this.db.collection<UserDoc>(this.userCollectionName(partitionOf(docId, this.generation.partitions)));
  }
  allDevices(): mongo.Collection<DeviceDoc>[] {
    return this.range().map((p) => this.db.collection<DeviceDoc>(this.deviceCollectionName(p)));
  }
  allUsers(): mongo.Collection<UserDoc>[] {
    return this.range().map((p) => this.db.collection<UserDoc>(this.userCollectionName(p)));
  }
  /** Null for a generation made before the counters. */
  ownerless(): OwnerlessCounters | null {
    return this.generation.ownerlessCounted ? new OwnerlessCounters(this.db, this.generation.id) : null;
  }

  private range(): number[] {
    return Array.from({ length: this.generation.partitions }, (_, p) => p);
  }
  private name(kind: string, partition: number): string {
    const base = `${kind}_${this.generation.id}`;
    return this.generation.partitions > 1 ? `${base}_p${String(partition).padStart(3, '0')}` : base;
  }
}

/**
 * Indexes for MongoDB's planner (FerretDB 1.x keeps them but does not use them for queries). Device
 * conditions of segments are single-field conditions on `devices.<field>` of the user documents.
 */
const DEVICE_INDEXES: mongo.IndexDescription[] = [
  { key: { appId: 1, userId: 1 }, name: 'app_user' },
  { key: { appId: 1, tokenHash: 1 }, name: 'app_token' },
  { key: { appId: 1, status: 1, lastSeenAt: 1 }, name: 'app_status_seen' },
];
const USER_INDEXES: mongo.IndexDescription[] = [
  { key: { appId: 1, userId: 1 }, name: 'app_user' },
  { key: { appId: 1, 'devices.reachableSeenAt': 1 }, name: 'app_reachable' },
  { key: { appId: 1, 'devices.platform': 1 }, name: 'app_platform' },
  { key: { appId: 1, 'devices.lastSeenAt': 1 }, name: 'app_device_seen' },
  { key: { appId: 1, 'devices.appVersionSort': 1 }, name: 'app_app_version' },
  { key: { appId: 1, lastSeenAt: 1 }, name: 'app_seen' },
];

/** The engine behind the connection: FerretDB answers buildInfo with `ferretdbVersion`. */
export async function isFerretDb(db: Db): Promise<boolean> {
  const info = await db.admin().command({ buildInfo: 1 });
  return 'ferretdbVersion' in info;
}

/** 32 partitions on FerretDB (a million devices → ~31k per collection), one on MongoDB. */
export async function defaultPartitions(db: Db): Promise<number> {
  return (await isFerretDb(db)) ? 32 : 1;
}

/** The `db` of a mongoose connection, once it is open. */
export async function dbOf(connection: mongoose.Connection): Promise<Db> {
  if (connection.readyState !== 1) await connection.asPromise();
  return connection.db as unknown as Db;
}

export class Generations {
  constructor(readonly db: Db) {}

  private meta(): mongo.Collection<MetaDoc> {
    return this.db.collection<MetaDoc>(META_COLLECTION);
  }

  async active(): Promise<Generation | null> {
    const p = (await this.meta().findOne({ _id: 'active' })) as ActivePointer | null;
    return p ? { id: p.generation, partitions: p.partitions, ownerlessCounted: p.ownerlessCounted === true } : null;
  }

  async record(id: string): Promise<GenerationRecord | null> {
    return (await this.meta().findOne({ _id: `gen:${id}` })) as GenerationRecord | null;
  }

  async list(): Promise<GenerationRecord[]> {
    const all = await this.meta().find({}).toArray();
    return all.filter((d): d is GenerationRecord => d._id.startsWith('gen:'));
  }

  /** New, empty collections with their indexes; not active until `activate`. */
  async create(partitions: number): Promise<Generation> {
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > 512) throw new Error(`partitions must be 1..512, got ${partitions}`);
    const gen: Generation = { id: `g${Date.now().toString(36)}${randomBytes(3).toString('hex')}`, partitions, ownerlessCounted: true };
    const layout = new Layout(this.db, gen);
    const jobs: (() => Promise<unknown>)[] = [];
    for (let p = 0; p < partitions; p++) {
      jobs.push(() => this.db.collection(layout.deviceCollectionName(p)).createIndexes(DEVICE_INDEXES));
      jobs.push(() => this.db.collection(layout.userCollectionName(p)).createIndexes(USER_INDEXES));
    }
    // One at a time: FerretDB 1.x serialises collection creation on a registry lock anyway, and concurrent
    // creates while other clients hold its PostgreSQL connections have been seen to wedge it.
    await runLimited(jobs, 1);
    await this.meta().insertOne({ _id: `gen:${gen.id}`, id: gen.id, partitions, ownerlessCounted: true, position: positionText(0n), createdAt: new Date().toISOString(), activatedAt: null });
    return gen;
  }

  /** Points readers and the projector at `gen`. */
  async activate(gen: Generation): Promise<void> {
    const now = new Date().toISOString();
    await this.meta().updateOne({ _id: `gen:${gen.id}` }, { $set: { activatedAt: now } });
    const pointer: ActivePointer = { _id: 'active', generation: gen.id, partitions: gen.partitions, ownerlessCounted: gen.ownerlessCounted === true, activatedAt: now };
    await this.meta().replaceOne({ _id: 'active' }, pointer, { upsert: true });
  }

  /** The active generation, or a new one made active when there is none yet (first start). */
  async ensureActive(partitions?: number): Promise<Generation> {
    const current = await this.active();
    if (current) return current;
    const gen = await this.create(partitions ?? (await defaultPartitions(this.db)));
    const pointer: ActivePointer = { _id: 'active', generation: gen.id, partitions: gen.partitions, ownerlessCounted: gen.ownerlessCounted === true, activatedAt: new Date().toISOString() };
    try {
      await this.meta().insertOne(pointer);
      await this.meta().updateOne({ _id: `gen:${gen.id}` }, { $set: { activatedAt: pointer.activatedAt } });
      return gen;
    } catch (err) {
      if ((err as { code?: number }).code !== 11000) throw err;
      // Another process activated one first: use it.
      await this.drop(gen);
      return (await this.active())!;
    }
  }

  async checkpoint(gen: Generation): Promise<bigint> {
    return positionOf((await this.record(gen.id))?.position);
  }

  /** Only ever moves forward, so a late writer cannot move it back. */
  async saveCheckpoint(gen: Generation, position: bigint): Promise<void> {
    const text = positionText(position);
    await this.meta().updateOne({ _id: `gen:${gen.id}`, position: { $lt: text } }, { $set: { position: text } });
  }

  async drop(gen: Generation): Promise<void> {
    const layout = new Layout(this.db, gen);
    const jobs = [...layout.allDevices(), ...layout.allUsers()].map((c) => () => c.drop().catch(() => false));
    await runLimited(jobs, 1);
    await this.meta().deleteOne({ _id: `gen:${gen.id}` });
  }
}

/** Runs the jobs with at most `limit` in flight; results in job order. */
export async function runLimited<T>(jobs: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}
