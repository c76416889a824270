import mongoose from 'mongoose';
import { Client } from 'pg';
import { scanTopics, type Stack } from '@pushledger/testing';

/** One place a secret was found: a table, collection, topic or process output. */
export interface Copy {
  where: string;
  secret: string;
}

export interface CopyScan {
  found: Copy[];
  /** What was read, so that a scan of nothing cannot pass. */
  read: { tables: number; rows: number; collections: number; documents: number; topics: number; messages: number; logChars: number };
}

/**
 * Reads every copy a stack holds as raw text: each row of every table of its PostgreSQL database (as `row::text`,
 * bytea as hex, so each secret is also looked for as hex), every document of every collection of its MongoDB
 * database (raw BSON), every message of every topic of its namespace (key, value, headers; DLQs included), and
 * every process's output. Sealed values are ciphertext: a secret found is one readable without any key.
 */
export async function copiesOf(stack: Stack, secrets: string[]): Promise<CopyScan> {
  const found: Copy[] = [];
  const needles = secrets.map((s) => ({ secret: s, forms: [s, Buffer.from(s, 'utf8').toString('hex')] }));
  const look = (where: string, text: string) => {
    for (const n of needles) if (n.forms.some((f) => text.includes(f))) found.push({ where, secret: n.secret });
  };
  const read = { tables: 0, rows: 0, collections: 0, documents: 0, topics: 0, messages: 0, logChars: 0 };

  const pg = new Client({ connectionString: stack.env.POSTGRES_URL });
  await pg.connect();
  try {
    const { rows: tables } = await pg.query<{ s: string; t: string }>(
      `SELECT table_schema AS s, table_name AS t FROM information_schema.tables
        WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`,
    );
    for (const { s, t } of tables) {
      const name = `"${s.replaceAll('"', '""')}"."${t.replaceAll('"', '""')}"`;
      const { rows } = await pg.query<{ r: string }>(`SELECT x::text AS r FROM ${name} x`);
      read.tables++;
      read.rows += rows.length;
      look(`table ${s}.${t}`, rows.map((r) => r.r).join('\n'));
    }
  } finally {
    await pg.end();
  }

  const mongo = await mongoose.createConnection(stack.env.MONGODB_URI).asPromise();
  try {
    const db = mongo.db!;
    for (const c of await db.listCollections({}, { nameOnly: true }).toArray()) {
      const docs: Buffer[] = [];
      for await (const doc of db.collection(c.name).find({}, { raw: true } as object)) docs.push(Buffer.from(doc as unknown as Uint8Array));
      read.collections++;
      read.documents += docs.length;
      look(`collection ${c.name}`, Buffer.concat(docs).toString('latin1'));
    }
  } finally {
    await mongo.close();
  }

  const byTopic = new Map<string, string[]>();
  for (const m of await scanTopics(stack.suffix)) {
    read.messages++;
    byTopic.set(m.topic, [...(byTopic.get(m.topic) ?? []), m.key, m.value, m.headers]);
  }
  read.topics = byTopic.size;
  for (const [topic, parts] of byTopic) look(`topic ${topic.slice(0, -(stack.suffix.length + 1))}`, parts.join('\n'));

  for (const [part, proc] of stack.procs) {
    const output = proc.logs();
    read.logChars += output.length;
    look(`log ${part}`, output);
  }
  return { found, read };
}
