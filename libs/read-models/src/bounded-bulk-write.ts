import type { mongo } from 'mongoose';

/**
 * FerretDB 1.x answers an `update` command by holding one pooled PostgreSQL connection per statement until
 * the whole command ends (handler/msg_update.go defers each statement's cursor close inside its loop).
 * A bulkWrite of hundreds of updateOne/replaceOne ops, or a few in parallel, takes every connection of its
 * pool and then waits for one more: FerretDB deadlocks for good. So updates go in commands of at most
 * MAX_UPDATES_PER_COMMAND statements (callers also bound how many run at once); inserts and deletes do not
 * pin connections and keep large batches.
 */
export const MAX_UPDATES_PER_COMMAND = 16;
const MAX_OPS_PER_COMMAND = 1000;

export interface BoundedBulkWriteResult {
  insertedCount: number;
  matchedCount: number;
  modifiedCount: number;
  deletedCount: number;
  upsertedCount: number;
  /** Per-op errors (unordered writes go on past them), with `index` into the ops given. */
  writeErrors: { index: number; code?: number; errmsg?: string }[];
}

const isUpdate = (op: object): boolean => 'updateOne' in op || 'updateMany' in op || 'replaceOne' in op;

/** Splits ops into commands that never hold more than MAX_UPDATES_PER_COMMAND update statements. */
export function commandBatches<T extends object>(ops: readonly T[]): { start: number; ops: T[] }[] {
  const out: { start: number; ops: T[] }[] = [];
  let current: T[] = [];
  let start = 0;
  let updates = 0;
  ops.forEach((op, i) => {
    const u = isUpdate(op) ? 1 : 0;
    if (current.length && (current.length >= MAX_OPS_PER_COMMAND || updates + u > MAX_UPDATES_PER_COMMAND)) {
      out.push({ start, ops: current });
      current = [];
      start = i;
      updates = 0;
    }
    current.push(op);
    updates += u;
  });
  if (current.length) out.push({ start, ops: current });
  return out;
}

/**
 * An unordered bulkWrite in bounded commands, one after another; errors of individual ops are collected
 * (as an unordered bulkWrite does), any other error is thrown.
 */
export async function boundedBulkWrite<D extends mongo.Document>(coll: mongo.Collection<D>, ops: mongo.AnyBulkWriteOperation<D>[]): Promise<BoundedBulkWriteResult> {
  const total: BoundedBulkWriteResult = { insertedCount: 0, matchedCount: 0, modifiedCount: 0, deletedCount: 0, upsertedCount: 0, writeErrors: [] };
  for (const batch of commandBatches(ops)) {
    let res: mongo.BulkWriteResult | undefined;
    try {
      res = await coll.bulkWrite(batch.ops, { ordered: false });
    } catch (err) {
      const e = err as { writeErrors?: { index: number; code?: number; errmsg?: string }[] | { index: number; code?: number; errmsg?: string }; result?: mongo.BulkWriteResult };
      if (!e.writeErrors) throw err;
      const errors = Array.isArray(e.writeErrors) ? e.writeErrors : [e.writeErrors];
      for (const w of errors) total.writeErrors.push({ index: batch.start + w.index, code: w.code, errmsg: w.errmsg });
      res = e.result;
    }
    if (res) {
      total.insertedCount += res.insertedCount;
      total.matchedCount += res.matchedCount;
      total.modifiedCount += res.modifiedCount;
      total.deletedCount += res.deletedCount;
      total.upsertedCount += res.upsertedCount;
    }
  }
  return total;
}
