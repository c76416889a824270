import { hashKey, keyStillValid, type PreviousAppKeysV1 } from './apps';

/** What the index needs of an app (a directory entry or a record). */
export interface KeyedApp {
  id: string;
  writeKeyHash: string;
  serverKeyHash: string;
  previousKeys?: PreviousAppKeysV1;
}

/**
 * Apps by id and by key hash, current keys and rotated ones still in their grace period: the one lookup
 * the gateway's directory and the services' registries share. By the key's SHA-256: how long a lookup
 * takes tells nothing about any stored key (no key is compared).
 */
export class AppKeyIndex<A extends KeyedApp> {
  private readonly apps = new Map<string, A>();
  private readonly byKeyHash = new Map<string, { app: A; kind: 'write' | 'server' }>();
  /** Key hashes replaced by a rotation, to the app id; valid only while the app's `previousKeys` say so. */
  private readonly previousByKeyHash = new Map<string, string>();

  /** Puts the app's newest state in place of the one before (its old key hashes leave the index). */
  put(app: A): void {
    const before = this.apps.get(app.id);
    if (before) {
      this.byKeyHash.delete(before.writeKeyHash);
      this.byKeyHash.delete(before.serverKeyHash);
      if (before.previousKeys) {
        this.previousByKeyHash.delete(before.previousKeys.writeKeyHash);
        this.previousByKeyHash.delete(before.previousKeys.serverKeyHash);
      }
    }
    this.apps.set(app.id, app);
    this.byKeyHash.set(app.writeKeyHash, { app, kind: 'write' });
    this.byKeyHash.set(app.serverKeyHash, { app, kind: 'server' });
    if (app.previousKeys) {
      this.previousByKeyHash.set(app.previousKeys.writeKeyHash, app.id);
      this.previousByKeyHash.set(app.previousKeys.serverKeyHash, app.id);
    }
  }

  get(appId: string): A | undefined {
    return this.apps.get(appId);
  }

  all(): A[] {
    return [...this.apps.values()];
  }

  get size(): number {
    return this.apps.size;
  }

  findByKey(key: string, now = Date.now()): { app: A; kind: 'write' | 'server' } | undefined {
    const hash = hashKey(key);
    const current = this.byKeyHash.get(hash);
    if (current) return current;
    const app = this.apps.get(this.previousByKeyHash.get(hash) ?? '');
    const kind = app && keyStillValid(app.previousKeys, hash, now);
    return app && kind ? { app, kind } : undefined;
  }
}
