import { hashKey } from './apps';
import { AppKeyIndex, KeyedApp } from './app-key-index';

const app = (keys: [string, string], previous?: { keys: [string, string]; validUntil: string }): KeyedApp => ({
  id: 'app_a',
  writeKeyHash: hashKey(keys[0]),
  serverKeyHash: hashKey(keys[1]),
  ...(previous ? { previousKeys: { writeKeyHash: hashKey(previous.keys[0]), serverKeyHash: hashKey(previous.keys[1]), validUntil: previous.validUntil } } : {}),
});

describe('AppKeyIndex', () => {
  it('finds an app by its current keys, by its rotated ones only within the grace period, and forgets keys a newer state replaced', () => {
    const index = new AppKeyIndex<KeyedApp>();
    index.put(app(['w1', 's1']));
    expect(index.findByKey('w1')?.kind).toBe('write');
    expect(index.findByKey('s1')?.kind).toBe('server');

    const until = Date.parse('2026-12-06T00:00:10Z');
    index.put(app(['w2', 's2'], { keys: ['w1', 's1'], validUntil: new Date(until).toISOString() }));
    expect(index.findByKey('w2')?.kind).toBe('write');
    expect(index.findByKey('s1', until - 1)?.kind).toBe('server');
    expect(index.findByKey('s1', until)).toBeUndefined();

    index.put(app(['w3', 's3']));
    expect(index.findByKey('w2')).toBeUndefined();
    expect(index.findByKey('w1', until - 1)).toBeUndefined();
    expect(index.findByKey('nope')).toBeUndefined();
    expect(index.all().map((a) => a.id)).toEqual(['app_a']);
  });
});
