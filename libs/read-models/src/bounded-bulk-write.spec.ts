import { commandBatches, MAX_UPDATES_PER_COMMAND } from './bounded-bulk-write';

const upd = (i: number) => ({ updateOne: { filter: { _id: i }, update: { $set: { i } } } });
const rep = (i: number) => ({ replaceOne: { filter: { _id: i }, replacement: { i } } });
const ins = (i: number) => ({ insertOne: { document: { _id: i } } });

describe('commandBatches', () => {
  it('never puts more than MAX_UPDATES_PER_COMMAND updates in one command, and keeps every op once, in order', () => {
    const ops = Array.from({ length: 1000 }, (_, i) => (i % 3 === 0 ? ins(i) : i % 3 === 1 ? upd(i) : rep(i)));
    const batches = commandBatches(ops);
    for (const b of batches) expect(b.ops.filter((o) => !('insertOne' in o)).length).toBeLessThanOrEqual(MAX_UPDATES_PER_COMMAND);
    expect(batches.flatMap((b) => b.ops)).toEqual(ops);
    for (const b of batches) expect(ops[b.start]).toBe(b.ops[0]);
  });

  it('keeps inserts in large commands', () => {
    const batches = commandBatches(Array.from({ length: 2500 }, (_, i) => ins(i)));
    expect(batches.map((b) => b.ops.length)).toEqual([1000, 1000, 500]);
    expect(commandBatches([])).toEqual([]);
  });
});
