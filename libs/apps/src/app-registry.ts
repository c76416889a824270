import { AppEvent, AppKeyIndex, AppRecord, APP_EVENT_TYPES, appStream, evolveApp, isAppId } from '@pushledger/contracts';
import type { EventStore, StoredEvent, Subscription } from '@pushledger/event-store';

export { hashKey } from '@pushledger/contracts';

/**
 * Every app, in memory, fed by a subscription to the store's `app-` streams. Apps are few; keys are
 * looked up by hash on each request. A miss (an app created a moment ago elsewhere) reads the
 * stream directly. Each app's facts apply once, in stream order, whichever way they arrive first.
 */
export class AppRegistry {
  private readonly apps = new AppKeyIndex<AppRecord>();
  private readonly revisions = new Map<string, bigint>();
  private subscription?: Subscription;
  private caughtUp!: Promise<void>;

  constructor(private readonly store: EventStore) {}

  private position: bigint | undefined;
  private stopped = false;

  start(): Promise<void> {
    this.caughtUp = new Promise((resolve, reject) => {
      let caughtUp = false;
      const subscribe = () => {
        this.subscription = this.store.subscribeToAll({
          fromCheckpoint: this.position,
          filter: { streamPrefixes: ['app-'], eventTypes: [...APP_EVENT_TYPES] },
          onEvent: (e) => {
            this.apply(e);
            this.position = e.position;
          },
          onCaughtUp: () => {
            caughtUp = true;
            resolve();
          },
          // A store outage must not leave this process blind to new apps: resubscribe from where it stopped.
          onError: (err) => {
            if (this.stopped) return;
            if (!caughtUp) return reject(err);
            setTimeout(subscribe, 1000);
          },
        });
      };
      subscribe();
    });
    return this.caughtUp;
  }

  private apply(stored: Pick<StoredEvent, 'type' | 'data' | 'streamRevision'>): void {
    const event = { type: stored.type, data: stored.data } as AppEvent;
    const appId = event.data.appId;
    // A fact read by refresh() may come again through the subscription, and an older one after it.
    if (stored.streamRevision <= (this.revisions.get(appId) ?? -1n)) return;
    const before = this.apps.get(appId);
    const after = evolveApp(before, event);
    if (!after) return;
    this.revisions.set(appId, stored.streamRevision);
    this.apps.put(after);
  }

  /** Reads the app's stream now, so the next request to this process sees a write it just had stored. */
  async refresh(appId: string): Promise<AppRecord | undefined> {
    for (const e of await this.store.readStream(appStream(appId))) this.apply(e);
    return this.apps.get(appId);
  }

  findByKey(key: string): { app: AppRecord; kind: 'write' | 'server' } | undefined {
    return this.apps.findByKey(key);
  }

  async get(appId: string): Promise<AppRecord | undefined> {
    const known = this.apps.get(appId);
    if (known) return known;
    if (!isAppId(appId)) return undefined;
    return this.refresh(appId);
  }

  /** The app stream's revision this process has applied, or -1 for an app it does not know. */
  revisionOf(appId: string): number {
    return Number(this.revisions.get(appId) ?? -1n);
  }

  all(): AppRecord[] {
    return this.apps.all();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.subscription?.stop();
  }
}
