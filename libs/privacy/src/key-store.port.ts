import { randomUUID } from 'crypto';
import { newDataKey } from './sealing';

/** Whose key: a data subject (`user`, by pseudonym) or a device (its push tokens). */
export type KeyKind = 'user' | 'device';

export interface KeyRef {
  appId: string;
  kind: KeyKind;
  /** `user`: the user id's pseudonym (never the raw id); `device`: the device id. */
  subject: string;
}

/** `key: null`: the subject was erased; whatever is written for it now must not be readable. */
export interface DataKey {
  kid: string;
  key: Buffer | null;
}

/**
 * Where the data keys live. Destroying a key is the erasure: every value sealed with it becomes
 * unreadable wherever it was copied (history, replays, rebuilt read models, the lifecycle topic).
 */
export interface KeyStore {
  /** Each subject's current key, created on first use; same order as `refs`. */
  keysFor(refs: KeyRef[]): Promise<DataKey[]>;
  /** Each subject's key if it has one (`key: null`: destroyed), without creating any; same order as `refs`. */
  lookup(refs: KeyRef[]): Promise<(DataKey | undefined)[]>;
  /** The live keys among these ids (destroyed or unknown ids are absent). */
  keysById(kids: string[]): Promise<Map<string, Buffer>>;
  /** Per-app secret for pseudonyms (user stream names, key subjects). Created on first use, never destroyed. */
  appSecret(appId: string): Promise<Buffer>;
  /**
   * Destroys the user's key (keeping a tombstone, so pii written for them later is not readable either)
   * and the devices' keys (a device that registers again gets a new key). Idempotent.
   */
  destroy(appId: string, userSubject: string, deviceIds: string[]): Promise<void>;
  /** Removes a user's tombstone (erasure lifted): their next pii gets a new key. */
  revive(appId: string, userSubject: string): Promise<void>;
  close(): Promise<void>;
}

const refKey = (r: KeyRef) => `${r.appId}\u0000${r.kind}\u0000${r.subject}`;

/** For unit tests and single-process tools. */
export class InMemoryKeyStore implements KeyStore {
  private readonly bySubject = new Map<string, { kid: string; key: Buffer | null }>();
  private readonly byKid = new Map<string, Buffer>();
  private readonly secrets = new Map<string, Buffer>();

  async keysFor(refs: KeyRef[]): Promise<DataKey[]> {
    return refs.map((r) => {
      let entry = this.bySubject.get(refKey(r));
      if (!entry) {
        entry = { kid: randomUUID(), key: newDataKey() };
        this.bySubject.set(refKey(r), entry);
        this.byKid.set(entry.kid, entry.key!);
      }
      return { kid: entry.kid, key: entry.key };
    });
  }

  async lookup(refs: KeyRef[]): Promise<(DataKey | undefined)[]> {
    return refs.map((r) => {
      const e = this.bySubject.get(refKey(r));
      return e && { kid: e.kid, key: e.key };
    });
  }

  async keysById(kids: string[]): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    for (const kid of kids) {
      const key = this.byKid.get(kid);
      if (key) out.set(kid, key);
    }
    return out;
  }

  async appSecret(appId: string): Promise<Buffer> {
    let s = this.secrets.get(appId);
    if (!s) this.secrets.set(appId, (s = newDataKey()));
    return s;
  }

  async destroy(appId: string, userSubject: string, deviceIds: string[]): Promise<void> {
    const user = refKey({ appId, kind: 'user', subject: userSubject });
    const entry = this.bySubject.get(user);
    if (entry) this.byKid.delete(entry.kid);
    this.bySubject.set(user, { kid: entry?.kid ?? randomUUID(), key: null });
    for (const deviceId of deviceIds) {
      const k = refKey({ appId, kind: 'device', subject: deviceId });
      const d = this.bySubject.get(k);
      if (d) this.byKid.delete(d.kid);
      this.bySubject.delete(k);
    }
  }

  async revive(appId: string, userSubject: string): Promise<void> {
    const k = refKey({ appId, kind: 'user', subject: userSubject });
    if (this.bySubject.get(k)?.key === null) this.bySubject.delete(k);
  }

  /** Test helper: how many live data keys exist. */
  liveKeys(): number {
    return this.byKid.size;
  }

  async close(): Promise<void> {}
}
