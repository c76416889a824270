import { Client } from 'pg';
import { createTestMongo, testConfig, waitFor, withDatabase } from '@pushledger/testing';
import { dbOf, Generations, Layout } from './generations';

/** deploy/local names FerretDB's PostgreSQL database so. */
const FERRETDB_PG_DATABASE = 'ferretdb';
const DEVICES = 3000;

/**
 * FerretDB 1.x filters by equality as `_jsonb->'<field>' @> '<value>'`, which its own btree indexes cannot serve.
 * deploy/local adds GIN indexes for `_id`, `userId` and `tokenHash` (ferretdb-id-index.sql): these checks
 * read PostgreSQL's own statistics to show FerretDB's lookups through the read models' collections use them.
 */
describe('read-model lookups on FerretDB use an index', () => {
  let mongo: Awaited<ReturnType<typeof createTestMongo>>;
  let pg: Client;
  let layout: Layout;

  beforeAll(async () => {
    mongo = await createTestMongo('rm_idx');
    const db = await dbOf(mongo.connection);
    layout = new Layout(db, await new Generations(db).create(1));
    const docs = Array.from({ length: DEVICES }, (_, i) => ({ _id: `app_a:d${i}`, appId: 'app_a', id: `d${i}`, userId: i % 10 ? `u${i >> 1}` : null, tokenHash: `h${i}`, status: 'registered' }));
    await layout.allDevices()[0].insertMany(docs as never[]);
    await layout.allUsers()[0].insertMany(Array.from({ length: DEVICES / 2 }, (_, i) => ({ _id: `app_a:u${i}`, appId: 'app_a', userId: `u${i}`, devices: [] })) as never[]);
    pg = new Client({ connectionString: withDatabase(testConfig().eventStore.postgresUrl, FERRETDB_PG_DATABASE) });
    await pg.connect();
    for (const coll of [layout.allDevices()[0], layout.allUsers()[0]]) await pg.query(`ANALYZE ${await tableOf(coll.collectionName)}`);
  });
  afterAll(async () => {
    await pg?.end();
    await mongo?.drop();
  });

  /** The PostgreSQL table FerretDB keeps the collection in, as its metadata names it. */
  async function tableOf(collection: string): Promise<string> {
    const schema = pgIdent(mongo.connection.db!.databaseName);
    const { rows } = await pg.query<{ table: string }>(`SELECT _jsonb->>'table' AS table FROM ${schema}._ferretdb_database_metadata WHERE _jsonb->>'_id' = $1`, [collection]);
    return `${schema}.${pgIdent(rows[0].table)}`;
  }

  /** The GIN indexes on the collection's table, by the field they cover. */
  async function ginIndexes(collection: string): Promise<Map<string, string>> {
    const { rows } = await pg.query<{ name: string; def: string }>(
      `SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
        WHERE a.amname = 'gin' AND i.indrelid = $1::regclass`,
      [await tableOf(collection)],
    );
    return new Map(rows.map((r) => [/_jsonb -> '([^']+)'/.exec(r.def)![1], r.name]));
  }

  async function scans(index: string): Promise<number> {
    const { rows } = await pg.query<{ n: string }>('SELECT idx_scan AS n FROM pg_stat_user_indexes WHERE indexrelname = $1', [index]);
    return Number(rows[0]?.n ?? 0);
  }

  it('device and user collections carry GIN indexes for _id, userId and tokenHash, and none for appId', async () => {
    const devices = await ginIndexes(layout.allDevices()[0].collectionName);
    expect([...devices.keys()].sort()).toEqual(['_id', 'tokenHash', 'userId']);
    const users = await ginIndexes(layout.allUsers()[0].collectionName);
    expect([...users.keys()].sort()).toEqual(['_id', 'userId']);
  });

  it.each([
    ['a device by token hash', 'devices', 'tokenHash', { appId: 'app_a', tokenHash: 'h2021' }, ['app_a:d2021']],
    ['devices by user id', 'devices', 'userId', { appId: 'app_a', userId: 'u1010' }, ['app_a:d2021']],
    ['a user by user id', 'users', 'userId', { appId: 'app_a', userId: 'u77' }, ['app_a:u77']],
  ] as const)('%s is read through its index', async (_what, kind, field, filter, ids) => {
    const coll = kind === 'devices' ? layout.allDevices()[0] : layout.allUsers()[0];
    const index = (await ginIndexes(coll.collectionName)).get(field)!;
    expect(index).toBeDefined();
    const before = await scans(index);
    const found = await coll.find(filter).toArray();
    expect(found.map((d) => d._id)).toEqual(ids);
    // PostgreSQL publishes a backend's index statistics within seconds, not at once.
    await waitFor(async () => ((await scans(index)) > before ? true : undefined), { what: `a scan of ${index}`, timeoutMs: 30_000 });
  });
});

function pgIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
