import { randomUUID } from 'crypto';
import { InMemoryEventStore, type NewEvent } from '@pushledger/event-store';
import { csvRow, parseReplayArgs, runReplay, toRecord, UsageError, type ReplayRecord } from './replay';

const ev = (type: string, appId: string, occurredAt: string, data: Record<string, unknown> = {}): NewEvent => ({
  eventId: randomUUID(),
  type,
  data: { appId, ...data },
  metadata: { appId, correlationId: 'c', causationId: 'c', occurredAt, schemaVersion: 1 },
});

describe('replay arguments', () => {
  it('parses every option', () => {
    const o = parseReplayArgs(['--app', 'app_a', '--from', '2025-01-01', '--to=2025-02-01T00:00:00Z', '--types', 'A, B', '--stream', 'device-app_a-d1', '--format', 'csv', '--out', 'x.csv', '--after', '42', '--redact']);
    expect(o).toEqual({ appId: 'app_a', from: new Date('2025-01-01T00:00:00Z'), to: new Date('2025-02-01T00:00:00Z'), types: ['A', 'B'], stream: 'device-app_a-d1', format: 'csv', out: 'x.csv', topic: undefined, after: 42n, redact: true });
  });

  it.each([
    [[], /--app is required/],
    [['--app', 'a', '--format', 'xml'], /--format/],
    [['--app', 'a', '--from', 'yesterday'], /--from must be an ISO-8601 time/],
    [['--app', 'a', '--to', '2025-02-30'], /--to must be an ISO-8601 time/],
    [['--app', 'a', '--from', '2025-02-01', '--to', '2025-01-01'], /before/],
    [['--app', 'a', '--out', 'f', '--topic', 't'], /exclusive/],
    [['--app', 'a', '--after', '-1'], /--after/],
    [['--app', 'a', '--bogus', '1'], /unknown option/],
    [['--app'], /needs a value/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseReplayArgs(argv as string[])).toThrow(UsageError);
    expect(() => parseReplayArgs(argv as string[])).toThrow(message);
  });
});

describe('replay selection', () => {
  it('selects by app, type, stream and time, and resumes after a position', async () => {
    const store = new InMemoryEventStore();
    await store.appendToStream('device-app_a-d1', [ev('TokenRegistered', 'app_a', '2025-01-01T00:00:00Z'), ev('DeviceSeen', 'app_a', '2025-01-02T00:00:00Z')], { expectedRevision: 'no_stream' });
    await store.appendToStream('device-app_b-d1', [ev('TokenRegistered', 'app_b', '2025-01-01T00:00:00Z')], { expectedRevision: 'no_stream' });
    await store.appendToStream('device-app_a-d2', [ev('TokenRegistered', 'app_a', '2025-01-03T00:00:00Z'), ev('DeviceSeen', 'app_a', '2025-01-04T00:00:00Z')], { expectedRevision: 'no_stream' });
    const run = async (argv: string[]) => {
      const out: ReplayRecord[] = [];
      const progress = await runReplay({ store, options: parseReplayArgs(['--app', 'app_a', ...argv]), sink: { write: async (r) => void out.push(...r), close: async () => undefined }, batchSize: 2 });
      return { out, progress };
    };
    const all = await run([]);
    expect(all.out.map((r) => [r.stream, r.type])).toEqual([
      ['device-app_a-d1', 'TokenRegistered'],
      ['device-app_a-d1', 'DeviceSeen'],
      ['device-app_a-d2', 'TokenRegistered'],
      ['device-app_a-d2', 'DeviceSeen'],
    ]);
    // The other app's streams are filtered out by the store already.
    expect(all.progress).toMatchObject({ scanned: 4, written: 4, lastPosition: 5n });
    expect((await run(['--types', 'DeviceSeen'])).out.map((r) => r.stream)).toEqual(['device-app_a-d1', 'device-app_a-d2']);
    expect((await run(['--stream', 'device-app_a-d2'])).out).toHaveLength(2);
    expect((await run(['--from', '2025-01-02', '--to', '2025-01-04'])).out.map((r) => r.occurredAt)).toEqual(['2025-01-02T00:00:00Z', '2025-01-03T00:00:00Z']);
    const resumed = await run(['--after', all.out[1].position]);
    expect(resumed.out.map((r) => r.eventId)).toEqual(all.out.slice(2).map((r) => r.eventId));
  });

  it('writes CSV with JSON data quoted, and masks tokens when asked', async () => {
    const store = new InMemoryEventStore();
    const token = 'abcdefghijklmnopqrstuvwxyz-0123456789';
    await store.appendToStream('device-app_a-d1', [ev('TokenRefreshed', 'app_a', '2025-01-01T00:00:00Z', { token, previousToken: `${token}-old`, note: 'a "quoted", value' })], { expectedRevision: 'no_stream' });
    const [stored] = await store.readStream('device-app_a-d1');
    const row = csvRow(toRecord(stored));
    expect(row).toMatch(/^[0-9a-f-]{36},TokenRefreshed,device-app_a-d1,1,0,2025-01-01T00:00:00Z,"\{""appId"":""app_a"",/);
    expect(row.endsWith('\r\n')).toBe(true);
    const masked = JSON.stringify(toRecord(stored, true));
    expect(masked).not.toContain(token);
  });

  it("never prints an app's identity secret hash, masked or not", async () => {
    const store = new InMemoryEventStore();
    const marker = 'a1'.repeat(32);
    await store.appendToStream('app-app_a', [ev('AppCreated', 'app_a', '2025-01-01T00:00:00Z', { name: 'demo', writeKeyHash: 'wh', identitySecretHash: marker })], { expectedRevision: 'no_stream' });
    const [stored] = await store.readStream('app-app_a');
    for (const mask of [false, true]) {
      const record = toRecord(stored, mask);
      expect(JSON.stringify(record)).not.toContain(marker);
      expect(record.data).toMatchObject({ name: 'demo' });
    }
  });
});
