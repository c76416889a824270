import type { KeyStore } from './key-store.port';
import { isSealed, kidOf, seal, unseal, type Sealed } from './sealing';

/**
 * What a push needs of its recipient (token, user id, rendered content) travels to the sender sealed with the
 * device's key. Erasing the device's user destroys that key, and with it every copy in topics and DLQs.
 */
export class RecipientSeals {
  constructor(private readonly keys: KeyStore) {}

  /**
   * Each value sealed with its device's key (one is made for a device that has none), bound to `field`:
   * `recipient` for what travels to the sender, `token` for a token kept as the store keeps it.
   */
  async seal<T>(appId: string, items: readonly { deviceId: string; value: T }[], field: 'recipient' | 'token' = 'recipient'): Promise<Sealed[]> {
    const keys = await this.keys.keysFor(items.map((i) => ({ appId, kind: 'device' as const, subject: i.deviceId })));
    return items.map((item, i) => {
      const { kid, key } = keys[i];
      // A device key is deleted at erasure, never kept as a tombstone: keysFor makes a new one instead.
      if (!key) throw new Error(`the key of device ${item.deviceId} of ${appId} is destroyed`);
      return seal(item.value, field, kid, key);
    });
  }

  /**
   * Each value opened; undefined where its key is gone (the device was erased since it was sealed). A `token`
   * inside it that is itself sealed (as the read models keep it, with the same device key) is opened too, or
   * left out when its key is gone.
   */
  async open(items: readonly Sealed[]): Promise<unknown[]> {
    const kids = items.map(kidOf);
    const keys = await this.keys.keysById(kids.filter((k): k is string => k !== null));
    const opened = items.map((s, i) => {
      const key = kids[i] === null ? undefined : keys.get(kids[i]!);
      return key ? unseal(s, 'recipient', key) : undefined;
    });
    const tokenKid = (v: unknown) => (isRecord(v) && isSealed(v.token) ? kidOf(v.token) : null);
    const missing = [...new Set(opened.map(tokenKid).filter((k): k is string => k !== null && !keys.has(k)))];
    if (missing.length) for (const [kid, key] of await this.keys.keysById(missing)) keys.set(kid, key);
    return opened.map((v) => {
      if (!isRecord(v) || !isSealed(v.token)) return v;
      const kid = kidOf(v.token);
      const key = kid === null ? undefined : keys.get(kid);
      const token = key ? unseal(v.token, 'token', key) : undefined;
      const { token: _sealed, ...rest } = v;
      return typeof token === 'string' ? { ...rest, token } : rest;
    });
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
