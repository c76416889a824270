import { randomUUID } from 'crypto';
import { AppAdminCommand, AppDirectoryEntryV1, AppSettingsPatch, appStream, AppSettingsV1, DEFAULT_APP_SETTINGS } from '@pushledger/contracts';
import { EventStore, PostgresEventStore, WrongExpectedVersionError } from '@pushledger/event-store';
import { StreamExecutor } from '@pushledger/lifecycle';
import { changesNotOnTheLatest, createTestDatabase, TEN_SETTINGS_CHANGES as PATCHES } from '@pushledger/testing';
import { AppChanges, AppCommandsHandler } from './app-commands.handler';

const APP = 'app_handler0test';
const T0 = new Date('2025-03-01T08:00:00.000Z');
const meta = (appId = APP) => ({ commandId: randomUUID(), appId, issuedAt: T0.toISOString() });
const create = (appId = APP): AppAdminCommand => ({ ...meta(appId), type: 'CreateApp', name: 'demo', writeKeyHash: 'wh', serverKeyHash: 'sh', fcm: { projectId: 'demo-proj', serviceAccount: null }, settings: {} });
const change = (settings: AppSettingsPatch): AppAdminCommand => ({ ...meta(), type: 'ChangeAppSettings', settings });

/** What the handler announces (on `pushledger.apps.v1` in the service). */
class Announced implements AppChanges {
  readonly entries: AppDirectoryEntryV1[] = [];
  async publish(entry: AppDirectoryEntryV1) {
    this.entries.push(entry);
  }
}

describe('app commands on the registration service (real PostgreSQL)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let store: PostgresEventStore;

  beforeAll(async () => {
    db = await createTestDatabase('app_cmds');
    store = await PostgresEventStore.connect({ connectionString: db.url, poolSize: 12 });
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('creates an app once, and answers a redelivered command with the same view without a second fact', async () => {
    const announced = new Announced();
    const handler = new AppCommandsHandler(new StreamExecutor(store), announced);
    const command = create('app_once');
    const first = await handler.handle(command, T0);
    const again = await handler.handle(command, new Date(T0.getTime() + 60_000));
    expect(first.view).toEqual({ id: 'app_once', name: 'demo', fcm: { projectId: 'demo-proj', hasServiceAccount: false }, settings: DEFAULT_APP_SETTINGS, createdAt: T0.toISOString() });
    expect(again.view).toEqual(first.view);
    // Announced each time, the redelivery too (its first announcement may have been lost in a crash), with the key hashes and the revision.
    const entry = { ...first.view, writeKeyHash: 'wh', serverKeyHash: 'sh', revision: 0 };
    expect(announced.entries).toEqual([entry, entry]);
    expect((await store.readStream(appStream('app_once'))).map((e) => e.type)).toEqual(['AppCreated']);
    await expect(handler.handle(create('app_once'), T0)).rejects.toMatchObject({ code: 'app_already_exists' });
    await expect(handler.handle({ ...change({ staleAfterDays: 9 }), appId: 'app_missing' }, T0)).rejects.toMatchObject({ code: 'app_not_found' });
  });

  it('ten changes that all read the same revision all land: the conflicting appends re-read and decide again', async () => {
    await new AppCommandsHandler(new StreamExecutor(store), new Announced()).handle(create(), T0);
    const conflicts = { count: 0 };
    const announced = new Announced();
    const handler = new AppCommandsHandler(new StreamExecutor(sameReadForFirst(store, appStream(APP), PATCHES.length, conflicts)), announced);

    const answers = await Promise.all(PATCHES.map((p) => handler.handle(change(p), T0)));

    // All ten decided on the one revision they read together, so all but one append conflicted at least once.
    expect(conflicts.count).toBeGreaterThanOrEqual(PATCHES.length - 1);
    answers.forEach((a, i) => expect(a.view.settings).toMatchObject(PATCHES[i]));
    const stored = await store.readStream(appStream(APP));
    expect(stored.map((e) => e.type)).toEqual(['AppCreated', ...PATCHES.map(() => 'AppSettingsChanged')]);
    expect(changesNotOnTheLatest(stored.map((e) => (e.data as { settings: AppSettingsV1 }).settings), PATCHES)).toEqual([]);
    // Each announcement names the revision its settings are at: the newest one carries the stored settings.
    expect(announced.entries.map((e) => e.revision).sort((a, b) => a - b)).toEqual(PATCHES.map((_, i) => i + 1));
    const newest = announced.entries.find((e) => e.revision === PATCHES.length)!;
    expect(newest.settings).toEqual((stored[stored.length - 1].data as { settings: AppSettingsV1 }).settings);
  });

  it('a change that changes nothing stores nothing', async () => {
    const handler = new AppCommandsHandler(new StreamExecutor(store), new Announced());
    await handler.handle(create('app_same'), T0);
    const { view } = await handler.handle({ ...change({ staleAfterDays: DEFAULT_APP_SETTINGS.staleAfterDays }), appId: 'app_same' }, T0);
    expect(view.settings).toEqual(DEFAULT_APP_SETTINGS);
    expect((await store.readStream(appStream('app_same'))).length).toBe(1);
  });
});

/**
 * The store, except that the first `n` reads of `stream` all wait for one another: the `n` commands then
 * decide on the same revision whatever the timing, and their appends must conflict. Counts the conflicts.
 */
function sameReadForFirst(store: EventStore, stream: string, n: number, conflicts: { count: number }): EventStore {
  let arrived = 0;
  let release!: () => void;
  const together = new Promise<void>((r) => (release = r));
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'readStream') {
        return async (name: string, options?: Parameters<EventStore['readStream']>[1]) => {
          // Read before waiting: each of the first n sees the stream as it was before any of them appended.
          const events = await target.readStream(name, options);
          if (name === stream && arrived < n) {
            if (++arrived === n) release();
            await together;
          }
          return events;
        };
      }
      if (prop === 'appendToStream') {
        return (...args: Parameters<EventStore['appendToStream']>) =>
          target.appendToStream(...args).catch((err: unknown) => {
            if (err instanceof WrongExpectedVersionError) conflicts.count++;
            throw err;
          });
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
