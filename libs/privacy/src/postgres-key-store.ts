import { randomUUID } from 'crypto';
import { Pool } from 'pg';
import { createPgPool, TurnBatch } from '@pushledger/event-store';
import type { DataKey, KeyRef, KeyStore } from './key-store.port';
import { newDataKey } from './sealing';

export interface PostgresKeyStoreOptions {
  connectionString: string;
  poolSize?: number;
}

/**
 * Keys in `privacy.keys` of the event-store database. One row per (app, kind, subject); `key` NULL is a
 * destroyed user key (tombstone). Kind `stream` holds each app's pseudonym secret (subject '').
 * Key ids are never reused, so a destroyed id is known destroyed for good.
 *
 * Destroyed key bytes stay in dead tuples and WAL until VACUUM and WAL recycling; backups keep them for
 * their retention. That bounds how long after an erasure old copies could still be decrypted.
 */
export class PostgresKeyStore implements KeyStore {
  private readonly secrets = new Map<string, Promise<Buffer>>();

  private constructor(private readonly pool: Pool) {}

  static async connect(options: PostgresKeyStoreOptions): Promise<PostgresKeyStore> {
    const pool = createPgPool({ connectionString: options.connectionString, max: options.poolSize ?? 5 });
    const store = new PostgresKeyStore(pool);
    try {
      await store.migrate();
    } catch (err) {
      await pool.end();
      throw err;
    }
    return store;
  }

  private async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['pushledger.privacy.migrate']);
      await client.query('CREATE SCHEMA IF NOT EXISTS privacy');
      await client.query(`CREATE TABLE IF NOT EXISTS privacy.keys (
        app_id text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('user', 'device', 'stream')),
        subject text NOT NULL,
        kid uuid NOT NULL UNIQUE,
        key bytea,
        created_at timestamptz NOT NULL DEFAULT now(),
        destroyed_at timestamptz,
        PRIMARY KEY (app_id, kind, subject)
      )`);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async keysFor(refs: KeyRef[]): Promise<DataKey[]> {
    if (refs.length === 0) return [];
    const unique = [...new Map(refs.map((r) => [`${r.appId}\u0000${r.kind}\u0000${r.subject}`, r])).values()];
    let found = await this.select(unique);
    const missing = unique.filter((r) => !found.has(id(r)));
    if (missing.length) {
      await this.pool.query(
        `INSERT INTO privacy.keys (app_id, kind, subject, kid, key)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::uuid[], $5::bytea[])
         ON CONFLICT (app_id, kind, subject) DO NOTHING`,
        [missing.map((r) => r.appId), missing.map((r) => r.kind), missing.map((r) => r.subject), missing.map(() => randomUUID()), missing.map(() => newDataKey())],
      );
      found = new Map([...found, ...(await this.select(missing))]);
    }
    return refs.map((r) => {
      const k = found.get(id(r));
      if (!k) throw new Error(`privacy key for ${r.kind} of ${r.appId} could not be created`);
      return k;
    });
  }

  async lookup(refs: KeyRef[]): Promise<(DataKey | undefined)[]> {
    if (refs.length === 0) return [];
    const found = await this.select(refs);
    return refs.map((r) => found.get(id(r)));
  }

  private async select(refs: KeyRef[]): Promise<Map<string, DataKey>> {
    const keys = await Promise.all(refs.map((r) => this.selects.get(r)));
    return new Map(refs.flatMap((r, i) => (keys[i] ? [[id(r), keys[i]] as const] : [])));
  }

  /** Concurrent commands (a batch of registrations) look their keys up with one query. */
  private readonly selects = new TurnBatch<KeyRef, DataKey>(id, async (refs) => {
    const { rows } = await this.pool.query<{ app_id: string; kind: string; subject: string; kid: string; key: Buffer | null }>(
      `SELECT k.app_id, k.kind, k.subject, k.kid::text AS kid, k.key FROM privacy.keys k
       JOIN unnest($1::text[], $2::text[], $3::text[]) AS r(app_id, kind, subject) USING (app_id, kind, subject)`,
      [refs.map((r) => r.appId), refs.map((r) => r.kind), refs.map((r) => r.subject)],
    );
    return new Map(rows.map((r) => [id({ appId: r.app_id, kind: r.kind as KeyRef['kind'], subject: r.subject }), { kid: r.kid, key: r.key }]));
  });

  async keysById(kids: string[]): Promise<Map<string, Buffer>> {
    const valid = [...new Set(kids)].filter((k) => UUID.test(k));
    if (valid.length === 0) return new Map();
    const { rows } = await this.pool.query<{ kid: string; key: Buffer }>(`SELECT kid::text AS kid, key FROM privacy.keys WHERE kid = ANY($1::uuid[]) AND key IS NOT NULL AND kind <> 'stream'`, [valid]);
    return new Map(rows.map((r) => [r.kid, r.key]));
  }

  appSecret(appId: string): Promise<Buffer> {
    let secret = this.secrets.get(appId);
    if (!secret) {
      secret = this.loadSecret(appId);
      this.secrets.set(appId, secret);
      secret.catch(() => this.secrets.delete(appId));
    }
    return secret;
  }

  private async loadSecret(appId: string): Promise<Buffer> {
    await this.pool.query(`INSERT INTO privacy.keys (app_id, kind, subject, kid, key) VALUES ($1, 'stream', '', $2, $3) ON CONFLICT (app_id, kind, subject) DO NOTHING`, [appId, randomUUID(), newDataKey()]);
    const { rows } = await this.pool.query<{ key: Buffer }>(`SELECT key FROM privacy.keys WHERE app_id = $1 AND kind = 'stream' AND subject = ''`, [appId]);
    if (!rows[0]?.key) throw new Error(`pseudonym secret of ${appId} is missing`);
    return rows[0].key;
  }

  async destroy(appId: string, userSubject: string, deviceIds: string[]): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO privacy.keys (app_id, kind, subject, kid, key, destroyed_at) VALUES ($1, 'user', $2, $3, NULL, now())
         ON CONFLICT (app_id, kind, subject) DO UPDATE SET key = NULL, destroyed_at = COALESCE(privacy.keys.destroyed_at, now())`,
        [appId, userSubject, randomUUID()],
      );
      if (deviceIds.length) await client.query(`DELETE FROM privacy.keys WHERE app_id = $1 AND kind = 'device' AND subject = ANY($2::text[])`, [appId, deviceIds]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async revive(appId: string, userSubject: string): Promise<void> {
    await this.pool.query(`DELETE FROM privacy.keys WHERE app_id = $1 AND kind = 'user' AND subject = $2 AND key IS NULL`, [appId, userSubject]);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const id = (r: KeyRef) => `${r.appId}\u0000${r.kind}\u0000${r.subject}`;
