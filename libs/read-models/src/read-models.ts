import type { DeviceView } from '@pushledger/domain';
import type { EventStore } from '@pushledger/event-store';
import type { SegmentPreviewV1, UserView } from '@pushledger/contracts';
import type mongoose from 'mongoose';
import { deviceViewOf, summaryView, userViewOf, type DeviceDoc, type UserDoc } from './documents';
import { dbOf, Generations, Layout, runLimited, type Db } from './generations';
import { deviceDocId, userDocId, userKeysOf, type UserKeyResolver } from './keys';
import { PROJECTED_STREAM_PREFIXES } from './projection';
import { segmentFilter, type CompileContext } from './segments/compile-rules';
import { estimateCount, estimateIsEnough } from './segments/count-estimate';
import type { SegmentRule } from './segments/segment-rules';
import { targetStream, type AudienceTarget, type TargetOptions, type TargetStream } from './targeting';

/** Partitions counted at once: FerretDB reads and filters a whole partition per count; more at once only queue. */
const COUNT_CONCURRENCY = 2;

export interface ReadModelsOptions {
  /** How long the active-generation pointer is cached. Default 1000 ms. */
  pointerTtlMs?: number;
  /**
   * The event store the projector reads (the pseudonymising one under libs/privacy): user documents are
   * keyed by the user stream's stored name, so with it a user is one point read. Without it (and without
   * `userKey`) a user is found by its `userId` field, one query per partition, and an erased user not at all.
   */
  store?: unknown;
  userKey?: UserKeyResolver;
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

export type SegmentPreview = SegmentPreviewV1;

/**
 * Reading the read models: device and user views, freshness (has the projector reached a store
 * position / a stream revision?), segment previews and targeting. Consults the active-generation pointer
 * (cached briefly), so a rebuild's switch reaches every reader within `pointerTtlMs`.
 */
export class ReadModels {
  private cached: { layout: Layout | null; at: number } | undefined;

  /** A mongoose connection (opened on first use, e.g. the platform's MONGO one) or a driver `Db`. */
  constructor(
    private readonly source: mongoose.Connection | Db,
    private readonly options: ReadModelsOptions = {},
  ) {}

  private async db(): Promise<Db> {
    return 'asPromise' in this.source ? dbOf(this.source) : this.source;
  }

  /** The active generation's collections, or null before the projector first ran. */
  async layout(): Promise<Layout | null> {
    const ttl = this.options.pointerTtlMs ?? 1000;
    if (this.cached && Date.now() - this.cached.at < ttl) return this.cached.layout;
    const db = await this.db();
    const gen = await new Generations(db).active();
    const layout = gen ? new Layout(db, gen) : null;
    this.cached = { layout, at: Date.now() };
    return layout;
  }

  async deviceDoc(appId: string, deviceId: string): Promise<DeviceDoc | null> {
    const layout = await this.layout();
    const id = deviceDocId(appId, deviceId);
    return layout ? layout.devicesFor(id).findOne({ _id: id }) : null;
  }

  /** The device view exactly as `toDeviceView` gives it (token unmasked), or null. */
  async device(appId: string, deviceId: string): Promise<DeviceView | null> {
    const doc = await this.deviceDoc(appId, deviceId);
    return doc ? deviceViewOf(doc) : null;
  }

  async userDoc(appId: string, userId: string): Promise<UserDoc | null> {
    const layout = await this.layout();
    return layout ? findUser(layout, this.userKey, appId, userId) : null;
  }

  private get userKey(): UserKeyResolver | null {
    return this.options.userKey ?? (this.options.store ? userKeysOf(this.options.store) : null);
  }

  /** The user as the lifecycle's `toUserView` gives it over the user stream; null when the stream has no fact. */
  async user(appId: string, userId: string): Promise<UserView | null> {
    const doc = await this.userDoc(appId, userId);
    return doc ? userViewOf(doc, userId) : null;
  }

  /** The devices that name this user as owner (device streams are the truth), by device id. */
  async userDevices(appId: string, userId: string): Promise<DeviceView[]> {
    const doc = await this.userDoc(appId, userId);
    return doc ? doc.devices.map((d) => summaryView(appId, userId, d)) : [];
  }

  /** Last store position whose effects the active generation holds (0 before the first one). */
  async position(): Promise<bigint> {
    const layout = await this.layout();
    return layout ? new Generations(await this.db()).checkpoint(layout.generation) : 0n;
  }

  /** Read-your-writes: resolves true once the projector has written everything up to `position`, false on timeout. */
  async waitForPosition(position: bigint, options: WaitOptions = {}): Promise<boolean> {
    return poll(async () => (await this.position()) >= position, options);
  }

  /** Resolves true once the device document reflects at least `revision` (the view's revision). */
  async waitForDevice(appId: string, deviceId: string, revision: number, options: WaitOptions = {}): Promise<boolean> {
    return poll(async () => ((await this.deviceDoc(appId, deviceId))?.revision ?? 0) >= revision, options);
  }

  /** Resolves true once the user document reflects at least `revision` of the user stream. */
  async waitForUser(appId: string, userId: string, revision: number, options: WaitOptions = {}): Promise<boolean> {
    return poll(async () => ((await this.userDoc(appId, userId))?.revision ?? 0) >= revision, options);
  }

  /**
   * How many users match, and a few of them. Erased users never match. With `estimate`, partitions are counted
   * two at a time until they hold enough matches or the budget is spent, and the count is scaled from them.
   */
  async preview(appId: string, rules: SegmentRule | null, ctx: CompileContext, sampleSize = 20, estimate?: { budgetMs: number }): Promise<SegmentPreview> {
    const layout = await this.layout();
    if (!layout) return { count: 0, sample: [] };
    const filter = segmentFilter(appId, rules, ctx);
    const colls = layout.allUsers();
    const sampling = (async () => {
      const sample: string[] = [];
      for (const coll of colls) {
        if (sample.length >= sampleSize) break;
        const docs = await coll
          .find(filter, { projection: { userId: 1 } })
          .limit(sampleSize - sample.length)
          .toArray();
        for (const d of docs) if (d.userId !== null) sample.push(d.userId);
      }
      return sample;
    })();
    const sum = (counts: number[]) => counts.reduce((a, b) => a + b, 0);
    if (!estimate) {
      const counts = await runLimited(
        colls.map((c) => () => c.countDocuments(filter)),
        COUNT_CONCURRENCY,
      );
      return { count: sum(counts), sample: await sampling };
    }
    const started = Date.now();
    const counts: number[] = [];
    for (let i = 0; i < colls.length; i += COUNT_CONCURRENCY) {
      counts.push(...(await Promise.all(colls.slice(i, i + COUNT_CONCURRENCY).map((c) => c.countDocuments(filter)))));
      if (estimateIsEnough(sum(counts), Date.now() - started, estimate.budgetMs)) break;
    }
    return { ...estimateCount(sum(counts), counts.length, colls.length), sample: await sampling };
  }

  /** The eligible (user, device) pairs for a send, streamed; see targeting.ts. */
  async targets(appId: string, target: AudienceTarget, options: TargetOptions): Promise<TargetStream> {
    const layout = await this.layout();
    return targetStream(layout, appId, target, options, (id) => findUser(layout!, this.userKey, appId, id));
  }
}

/**
 * The last position of a fact the read models follow: wait for it (`waitForPosition`) to read
 * everything stored so far. One indexed query on PostgreSQL.
 */
export async function lastProjectedPosition(store: EventStore): Promise<bigint> {
  for await (const e of store.readAll({ direction: 'backwards', maxCount: 1, filter: { streamPrefixes: PROJECTED_STREAM_PREFIXES } })) return e.position;
  return 0n;
}

/** By key (one point read) when the key can be resolved, else by the `userId` field in every partition. */
async function findUser(layout: Layout, userKey: UserKeyResolver | null, appId: string, userId: string): Promise<UserDoc | null> {
  if (userKey) {
    const id = userDocId(appId, await userKey(appId, userId));
    return layout.usersFor(id).findOne({ _id: id });
  }
  const found = await Promise.all(layout.allUsers().map((c) => c.findOne({ appId, userId })));
  return found.find((d) => d !== null) ?? null;
}

async function poll(check: () => Promise<boolean>, options: WaitOptions): Promise<boolean> {
  const deadline = Date.now() + (options.timeoutMs ?? 5000);
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50));
  }
}
