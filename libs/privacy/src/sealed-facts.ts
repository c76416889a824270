import type { KeyStore } from './key-store.port';
import { isSealed, kidOf, unseal, type Sealed } from './sealing';

/** Fields of device facts that carry a push token (libs/contracts/src/events/device-events.ts). */
export const TOKEN_FIELDS = ['token', 'previousToken'] as const;

/** What `data.pii` reads as once its key is gone: the deciders fold it as "nobody". */
export interface ErasedPii {
  userId: string | null;
  erased: true;
}

type Data = Record<string, unknown>;
const isObject = (v: unknown): v is Data => typeof v === 'object' && v !== null && !Array.isArray(v);
const MAX_REMEMBERED_DESTROYED = 100_000;

/**
 * Opens the sealed fields of facts as stored (`data.pii`, token fields): for the event store's reads, and for
 * readers of the lifecycle topic, which carries facts as stored. A field whose key is gone reads as
 * `{ userId: fallback, erased: true }` (pii) or `null` (token).
 */
export class SealedFacts {
  private readonly destroyedKids = new Set<string>();

  constructor(private readonly keys: KeyStore) {}

  /** Every sealed field opened with one key lookup; facts without any come back as they are. */
  async open<E extends { data: unknown }>(events: E[], fallbackUserId: string | null = null): Promise<E[]> {
    const kids = new Set<string>();
    let sealedSeen = false;
    for (const e of events) {
      if (!isObject(e.data)) continue;
      for (const v of [e.data.pii, ...TOKEN_FIELDS.map((f) => (e.data as Data)[f])]) {
        if (!isSealed(v)) continue;
        sealedSeen = true;
        const kid = kidOf(v);
        if (kid && !this.destroyedKids.has(kid)) kids.add(kid);
      }
    }
    if (!sealedSeen) return events;
    const keys = kids.size ? await this.keys.keysById([...kids]) : new Map<string, Buffer>();
    for (const kid of kids) if (!keys.has(kid)) this.rememberDestroyed(kid);
    const open = (v: Sealed, field: 'pii' | 'token'): unknown => {
      const kid = kidOf(v);
      const key = kid ? keys.get(kid) : undefined;
      return key ? unseal(v, field, key) : undefined;
    };
    return events.map((e) => {
      if (!isObject(e.data)) return e;
      const data: Data = { ...e.data };
      let changed = false;
      if (isSealed(data.pii)) {
        const pii = open(data.pii, 'pii');
        data.pii = isObject(pii) ? pii : erasedPii(fallbackUserId);
        changed = true;
      }
      for (const f of TOKEN_FIELDS) {
        if (!isSealed(data[f])) continue;
        const token = open(data[f] as Sealed, 'token');
        data[f] = typeof token === 'string' ? token : null;
        changed = true;
      }
      return changed ? { ...e, data } : e;
    });
  }

  private rememberDestroyed(kid: string): void {
    if (this.destroyedKids.size >= MAX_REMEMBERED_DESTROYED) this.destroyedKids.clear();
    this.destroyedKids.add(kid);
  }
}

function erasedPii(userId: string | null): ErasedPii {
  return { userId, erased: true };
}
