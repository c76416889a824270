import { createHash } from 'crypto';
import { AppEvent, AppRecord, APP_EVENT_TYPES, evolveApp } from '@pushledger/contracts';
import type { EventStore, Subscription } from '@pushledger/event-store';

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/**
 * Every app, in memory, fed by a subscription to the store's `app-` streams. Apps are few; keys are
 * looked up by hash on each request. A miss (an app created a moment ago elsewhere) reads the
 * stream directly.
 */
export class AppRegistry {
  private readonly apps = new Map<string, AppRecord>();
  private readonly byKeyHash = new Map<string, { app: AppRecord; kind: 'write' | 'server' }>();
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
            this.apply(e.data as never, e.type as AppEvent['type']);
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

  private apply(data: AppEvent['data'], type: AppEvent['type']): void {
    const event = { type, data } as AppEvent;
    const before = this.apps.get(data.appId);
    const after = evolveApp(before, event);
    if (!after) return;
    if (before) {
      this.byKeyHash.delete(before.writeKeyHash);
      this.byKeyHash.delete(before.serverKeyHash);
    }
    this.apps.set(after.id, after);
    this.byKeyHash.set(after.writeKeyHash, { app: after, kind: 'write' });
    this.byKeyHash.set(after.serverKeyHash, { app: after, kind: 'server' });
  }

  /** Applies an event this process just stored, so its own next request sees it at once. */
  applyLocal(event: AppEvent): void {
    this.apply(event.data, event.type);
  }

  findByKey(key: string): { app: AppRecord; kind: 'write' | 'server' } | undefined {
    return this.byKeyHash.get(hashKey(key));
  }

  async get(appId: string): Promise<AppRecord | undefined> {
    const known = this.apps.get(appId);
    if (known) return known;
    if (!/^app_[a-z0-9]+$/.test(appId)) return undefined;
    const events = await this.store.readStream(`app-${appId}`);
    let app: AppRecord | undefined;
    for (const e of events) app = evolveApp(app, { type: e.type, data: e.data } as AppEvent);
    if (app) for (const e of events) this.apply(e.data as never, e.type as AppEvent['type']);
    return app;
  }

  all(): AppRecord[] {
    return [...this.apps.values()];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.subscription?.stop();
  }
}
