import { parseStream, StreamCategories } from '@pushledger/contracts';
import { randomUUID } from 'crypto';
import { DataKeyConflictError } from '@pushledger/event-store';
import type {
  AppendOptions,
  DataKeyClaim,
  AppendResult,
  CheckpointStore,
  EventStore,
  MultiAppendResult,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  StoredEvent,
  StreamAppend,
  SubscribeToAllOptions,
  Subscription,
} from '@pushledger/event-store';
import type { DataKey, KeyRef, KeyStore } from './key-store.port';
import { RecipientSeals } from './recipient-seals';
import { SealedFacts, TOKEN_FIELDS } from './sealed-facts';
import { ERASED_AT_WRITE, isSealed, newDataKey, pseudonymOf, seal, type Sealed } from './sealing';

export interface PrivacyEventStoreOptions {
  /** readAll decrypts this many events per key lookup. */
  readBatchSize?: number;
  /**
   * The key store's table is in the inner store's database (PostgreSQL for both): keys are then created and
   * checked in the append's own transaction, and kept in memory between appends.
   */
  keysInEventStore?: boolean;
}

type Data = Record<string, unknown>;
const isObject = (v: unknown): v is Data => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Data keys this process remembers for sealing (each use is checked again in the append's transaction). */
const MAX_CACHED_KEYS = 100_000;
/** Appends retried after a claimed key changed underneath (an erasure or a concurrent first use elsewhere). */
const MAX_KEY_CONFLICT_RETRIES = 5;
const refKey = (r: KeyRef) => `${r.appId}\u0000${r.kind}\u0000${r.subject}`;

/** `~` and 32 hex digits: a stored (pseudonymised) user stream id; a logical one never looks like this (see userStream). */
const PSEUDONYM = /^~[0-9a-f]{32}$/;

/** The app and user id of a logical user stream name (`userStream(appId, userId)`); null for other streams and stored names. */
function userOf(stream: string): { appId: string; userId: string } | null {
  const p = parseStream(stream);
  if (!p || p.category !== StreamCategories.user || !p.id || PSEUDONYM.test(p.id)) return null;
  return { appId: p.appId, userId: p.id.startsWith('~~') ? p.id.slice(1) : p.id };
}

/**
 * Crypto-shredding over any EventStore adapter.
 *
 * On append, every `data.pii` is sealed (AES-256-GCM) with the key of its data subject (app, pseudonym of
 * `pii.userId`), and every token field of a device fact with the key of (app, deviceId). Reads open them
 * again; a value whose key was destroyed reads as `{ userId: null, erased: true }` (pii) or `null` (token),
 * which the deciders fold as an anonymous device, a device without token, a user without traits.
 *
 * User streams are stored as `user-<appId>-~<pseudonym>`, a keyed hash of the user id with a per-app secret
 * that is never destroyed: callers keep naming them `userStream(appId, userId)` (the logical name, which
 * this store translates), the raw id never reaches the database, replays or Kafka keys, and an erased id
 * stays suppressed. A stored name (from readAll or a subscription) passed back in reads that stream as is;
 * userStream() escapes ids starting with `~`, so no user id can pose as a stored name. readStream of a
 * user stream by its logical name fills an erased `pii.userId` with the id the caller named (it knows it
 * already); by stored name, readAll and subscriptions cannot, so there it reads `null`.
 *
 * Appending `UserErased` to a user stream destroys the user's key (leaving a tombstone, so pii written for
 * them later is unreadable too) and the keys of the devices it lists, after sealing the batch and before
 * storing it: when the fact becomes visible, nothing of theirs opens any more. If the append then fails,
 * the keys are gone anyway and the retried erasure stores the fact. Appending `UserErasureLifted` removes
 * the tombstone: pii from then on gets a new key; nothing erased comes back.
 */
export class PrivacyEventStore implements EventStore {
  /** Opens what this store reads; also what readers of the lifecycle topic (facts as stored) use. */
  readonly facts: SealedFacts;
  private readonly seals: RecipientSeals;
  /** Live keys by subject, used only where the inner store checks claims in the append's transaction. */
  private readonly sealingKeys = new Map<string, { kid: string; key: Buffer }>();

  constructor(
    private readonly inner: EventStore,
    readonly keys: KeyStore,
    private readonly options: PrivacyEventStoreOptions = {},
  ) {
    this.facts = new SealedFacts(keys);
    this.seals = new RecipientSeals(keys);
  }

  get kind(): EventStore['kind'] {
    return this.inner.kind;
  }

  get checkpoints(): CheckpointStore {
    return this.inner.checkpoints;
  }

  /** The name a stream is stored (and replayed, and relayed) under. */
  async storedStreamName(stream: string): Promise<string> {
    const user = userOf(stream);
    return user ? `${StreamCategories.user}-${user.appId}-~${await this.pseudonym(user.appId, user.userId)}` : stream;
  }

  async pseudonym(appId: string, userId: string): Promise<string> {
    return pseudonymOf(await this.keys.appSecret(appId), userId);
  }

  /** Tokens sealed as the store seals them (field `token`, the device's key), for copies kept elsewhere (read models). */
  async sealTokens(appId: string, items: readonly { deviceId: string; token: string }[]): Promise<Sealed[]> {
    return this.seals.seal(appId, items.map((i) => ({ deviceId: i.deviceId, value: i.token })), 'token');
  }

  /** Destroys the user's key and the keys of these devices (their tokens). Idempotent. */
  async shred(appId: string, userId: string, deviceIds: string[]): Promise<void> {
    const subject = await this.pseudonym(appId, userId);
    this.forget([{ appId, kind: 'user', subject }, ...deviceIds.map((d) => ({ appId, kind: 'device' as const, subject: d }))]);
    await this.keys.destroy(appId, subject, [...new Set(deviceIds)]);
  }

  get storesDataKeys(): boolean {
    return false;
  }

  get atomicMultiStream(): boolean {
    return this.inner.atomicMultiStream;
  }

  async appendToStream(stream: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> {
    return (await this.appendToStreams([{ stream, events, expectedRevision: options.expectedRevision }])).streams[0];
  }

  async appendToStreams(appends: StreamAppend[]): Promise<MultiAppendResult> {
    // Before the fact is stored: once UserErased is visible, no reader (the relay wakes at once) may still open the user's pii.
    for (const a of appends) {
      const user = userOf(a.stream);
      const erased = user ? a.events.filter((e) => e.type === 'UserErased') : [];
      if (user && erased.length) await this.shred(user.appId, user.userId, erased.flatMap((e) => deviceIdsOf(e.data)));
    }
    const names = await Promise.all(appends.map((a) => this.storedStreamName(a.stream)));
    let result: MultiAppendResult;
    for (let attempt = 1; ; attempt++) {
      // One key lookup for every entry.
      const { events: sealed, claims } = await this.sealAll(appends.flatMap((a) => a.events));
      let at = 0;
      const stored = appends.map((a, i) => ({ stream: names[i], events: sealed.slice(at, (at += a.events.length)), expectedRevision: a.expectedRevision }));
      try {
        result = await this.inner.appendToStreams(stored, claims.length ? { dataKeys: claims } : undefined);
      } catch (err) {
        if (!(err instanceof DataKeyConflictError) || attempt >= MAX_KEY_CONFLICT_RETRIES) throw err;
        this.forget(claims);
        continue;
      }
      for (const c of claims) if (c.key) this.remember(c, { kid: c.kid, key: c.key });
      break;
    }
    for (const a of appends) {
      const user = userOf(a.stream);
      if (!user || !a.events.some((e) => e.type === 'UserErasureLifted')) continue;
      const subject = await this.pseudonym(user.appId, user.userId);
      this.forget([{ appId: user.appId, kind: 'user', subject }]);
      await this.keys.revive(user.appId, subject);
    }
    return result;
  }

  async readStream(stream: string, options?: ReadStreamOptions): Promise<StoredEvent[]> {
    const user = userOf(stream);
    const stored = await this.inner.readStream(await this.storedStreamName(stream), options);
    return this.facts.open(stored, user?.userId ?? null);
  }

  async *readAll(options?: ReadAllOptions): AsyncIterable<StoredEvent> {
    const size = this.options.readBatchSize ?? 500;
    let batch: StoredEvent[] = [];
    for await (const e of this.inner.readAll(options)) {
      batch.push(e);
      if (batch.length >= size) {
        const events = await this.facts.open(batch, null);
        batch = [];
        yield* events;
      }
    }
    if (batch.length) yield* await this.facts.open(batch, null);
  }

  subscribeToAll(options: SubscribeToAllOptions): Subscription {
    const { onEvent, onBatch, ...rest } = options;
    return this.inner.subscribeToAll({
      ...rest,
      ...(onEvent ? { onEvent: async (e: StoredEvent) => onEvent((await this.facts.open([e], null))[0]) } : {}),
      ...(onBatch ? { onBatch: async (b: StoredEvent[]) => onBatch(await this.facts.open(b, null)) } : {}),
    });
  }

  async close(): Promise<void> {
    try {
      await this.inner.close();
    } finally {
      await this.keys.close();
    }
  }

  private async sealAll(events: NewEvent[]): Promise<{ events: NewEvent[]; claims: DataKeyClaim[] }> {
    const refs: KeyRef[] = [];
    const plans: { pii?: number; token?: number }[] = [];
    for (const e of events) {
      const plan: { pii?: number; token?: number } = {};
      const data = e.data;
      if (isObject(data)) {
        const appId = typeof data.appId === 'string' ? data.appId : e.metadata.appId;
        if (isObject(data.pii) && !isSealed(data.pii)) {
          const userId = data.pii.userId;
          if (typeof userId !== 'string' || !userId) throw new Error(`${e.type}: pii must name its data subject (pii.userId)`);
          plan.pii = refs.push({ appId, kind: 'user', subject: await this.pseudonym(appId, userId) }) - 1;
        }
        if (typeof data.deviceId === 'string' && TOKEN_FIELDS.some((f) => typeof data[f] === 'string')) {
          plan.token = refs.push({ appId, kind: 'device', subject: data.deviceId }) - 1;
        }
      }
      plans.push(plan);
    }
    if (refs.length === 0) return { events, claims: [] };
    const { keys, claims } = await this.sealingKeysFor(refs);
    const sealWith = (value: unknown, field: 'pii' | 'token', i: number): Sealed => {
      const k = keys[i];
      return k.key ? seal(value, field, k.kid, k.key) : { $enc: ERASED_AT_WRITE };
    };
    const sealed = events.map((e, n) => {
      const plan = plans[n];
      if (plan.pii === undefined && plan.token === undefined) return e;
      const data: Data = { ...(e.data as Data) };
      if (plan.pii !== undefined) data.pii = sealWith(data.pii, 'pii', plan.pii);
      if (plan.token !== undefined) for (const f of TOKEN_FIELDS) if (typeof data[f] === 'string') data[f] = sealWith(data[f], 'token', plan.token);
      return { ...e, data };
    });
    return { events: sealed, claims };
  }

  /**
   * Where the inner store checks claims in its transaction, keys come from this process's memory, or are
   * looked up, or are new (created with the append): no commit of their own, and a key another process
   * destroyed or created meanwhile fails the append, which then runs again with fresh keys. Elsewhere
   * (EventStoreDB), the key store creates them first, as its own commit.
   */
  private async sealingKeysFor(refs: KeyRef[]): Promise<{ keys: DataKey[]; claims: DataKeyClaim[] }> {
    if (!this.options.keysInEventStore || !this.inner.storesDataKeys) return { keys: await this.keys.keysFor(refs), claims: [] };
    const bySubject = new Map<string, { ref: KeyRef; key: DataKey; fresh: boolean }>();
    const unknown: KeyRef[] = [];
    for (const r of refs) {
      const k = refKey(r);
      if (bySubject.has(k)) continue;
      const cached = this.sealingKeys.get(k);
      if (cached) bySubject.set(k, { ref: r, key: cached, fresh: false });
      else if (!unknown.some((u) => refKey(u) === k)) unknown.push(r);
    }
    if (unknown.length) {
      const found = await this.keys.lookup(unknown);
      unknown.forEach((r, i) => {
        const f = found[i];
        if (f?.key) this.remember(r, { kid: f.kid, key: f.key });
        bySubject.set(refKey(r), f ? { ref: r, key: f, fresh: false } : { ref: r, key: { kid: randomUUID(), key: newDataKey() }, fresh: true });
      });
    }
    const claims: DataKeyClaim[] = [];
    for (const { ref, key, fresh } of bySubject.values()) {
      // A destroyed user key (tombstone) seals nothing; the tombstone itself is the check.
      if (!key.key) continue;
      claims.push({ appId: ref.appId, kind: ref.kind, subject: ref.subject, kid: key.kid, ...(fresh ? { key: key.key } : {}) });
    }
    return { keys: refs.map((r) => bySubject.get(refKey(r))!.key), claims };
  }

  private remember(ref: KeyRef, key: { kid: string; key: Buffer }): void {
    if (this.sealingKeys.size >= MAX_CACHED_KEYS) this.sealingKeys.delete(this.sealingKeys.keys().next().value!);
    this.sealingKeys.set(refKey(ref), key);
  }

  private forget(refs: KeyRef[]): void {
    for (const r of refs) this.sealingKeys.delete(refKey(r));
  }
}

function deviceIdsOf(data: unknown): string[] {
  const ids = isObject(data) ? data.deviceIds : undefined;
  return Array.isArray(ids) ? ids.filter((d): d is string => typeof d === 'string') : [];
}
