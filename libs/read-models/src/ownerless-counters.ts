import { eligibility, isUnregistered, type IneligibleReason, type Message } from '@pushledger/domain';
import type { DeviceDoc } from './documents';
import { META_COLLECTION, type Db } from './generations';
import { positionOf, positionText } from './keys';

/** Why a broadcast (which names users) skips a device nobody owns: the domain's first reason. */
export type OwnerlessReason = Extract<IneligibleReason, 'no_token' | 'invalid' | 'anonymous'>;
export const OWNERLESS_REASONS: readonly OwnerlessReason[] = ['no_token', 'invalid', 'anonymous'];
export type OwnerlessCounts = Record<OwnerlessReason, number>;

/** A change of one device's reason, made by the fact stored at `position`. */
export interface OwnerlessChange {
  position: bigint;
  reason: OwnerlessReason;
  change: 1 | -1;
}

const BROADCAST: Message = { to: { userId: '' }, transactional: false, devicePolicy: null };
// Ownerless devices are refused before any rule that reads the clock.
const NO_CLOCK = { now: new Date(0), staleAfterDays: 0 };
const MAX_CONFLICT_ROUNDS = 20;

/** The reason a broadcast skips this device when nobody owns it; null for an owned, unregistered or absent one. */
export function ownerlessReason(d: DeviceDoc | null): OwnerlessReason | null {
  if (!d || d.userId !== null || isUnregistered(d)) return null;
  const verdict = eligibility(d, null, BROADCAST, NO_CLOCK);
  return verdict.eligible ? null : (verdict.reason as OwnerlessReason);
}

/** The changes from `before` to `after` of one device, at `position`. */
export function ownerlessChanges(before: DeviceDoc | null, after: DeviceDoc | null, position: bigint): OwnerlessChange[] {
  const was = ownerlessReason(before);
  const is = ownerlessReason(after);
  if (was === is) return [];
  return [...(was ? [{ position, reason: was, change: -1 as const }] : []), ...(is ? [{ position, reason: is, change: 1 as const }] : [])];
}

interface CounterDoc extends OwnerlessCounts {
  _id: string;
  appId: string;
  /** The last position whose change is counted (fixed-width text, see positionText). */
  position: string;
}

/**
 * Per app, how many devices nobody owns, by reason: what an `everyone` broadcast reports as skipped without
 * reading every device. Kept by the projector from the changes its folds make, each tagged with the fact's
 * position; a counter adds only changes after the position it last counted, so a batch replayed after a
 * crash (the counters are written before the device documents) counts nothing twice.
 */
export class OwnerlessCounters {
  constructor(
    private readonly db: Db,
    private readonly generation: string,
  ) {}

  private get coll() {
    return this.db.collection<CounterDoc>(META_COLLECTION);
  }
  private id(appId: string): string {
    return `ownerless:${this.generation}:${appId}`;
  }

  async get(appId: string): Promise<OwnerlessCounts> {
    const doc = await this.coll.findOne({ _id: this.id(appId) });
    return { no_token: doc?.no_token ?? 0, invalid: doc?.invalid ?? 0, anonymous: doc?.anonymous ?? 0 };
  }

  async add(appId: string, changes: readonly OwnerlessChange[]): Promise<void> {
    const _id = this.id(appId);
    for (let round = 0; round < MAX_CONFLICT_ROUNDS; round++) {
      const doc = await this.coll.findOne({ _id });
      const from = doc ? positionOf(doc.position) : -1n;
      const fresh = changes.filter((c) => c.position > from);
      if (!fresh.length) return;
      const inc: OwnerlessCounts = { no_token: 0, invalid: 0, anonymous: 0 };
      for (const c of fresh) inc[c.reason] += c.change;
      const position = positionText(fresh.reduce((m, c) => (c.position > m ? c.position : m), fresh[0].position));
      if (!doc) {
        try {
          await this.coll.insertOne({ _id, appId, position, ...inc });
          return;
        } catch (err) {
          if ((err as { code?: number }).code !== 11000) throw err;
          continue;
        }
      }
      const res = await this.coll.updateOne({ _id, position: doc.position }, { $inc: { ...inc }, $set: { position } });
      if (res.matchedCount === 1) return;
    }
    throw new Error(`ownerless counter of ${appId}: gave up after ${MAX_CONFLICT_ROUNDS} conflicting writes`);
  }
}
