import { MAX_TOPICS_PER_USER, TOPIC_NAME, type JsonObject, type UserEvent } from '@pushledger/contracts';
import type { Decider } from './decider';
import { InvalidCommandError, UserErasedError } from './domain-errors';
import { jsonEqual } from './json';
import type { UserCommand, UserCommandOf } from './user.commands';

export interface UserState {
  appId: string;
  userId: string;
  /** Linked devices with the lastSeenAt known when linked. */
  devices: Record<string, { lastSeenAt: string }>;
  /** Highest device-stream revision followed per device (linked or not), so stale links and unlinks are ignored. */
  deviceRevisions: Record<string, number>;
  traits: JsonObject;
  /** When each trait's value was observed: an older observation of it changes nothing. */
  traitsObservedAt?: Record<string, string>;
  unsubscribed: boolean;
  /** Subscription topics set by the user; a topic not listed is on. */
  topics: Record<string, boolean>;
  /** Erased and suppressed: the id cannot be used again until the erasure is lifted. */
  erased: boolean;
  revision: number;
}

type Fact = { appId: string; at: string };

export function decideUser(command: UserCommand, state: UserState | null, now: Date): UserEvent[] {
  if (state && (state.appId !== command.appId || state.userId !== command.userId)) {
    throw new InvalidCommandError(`command for ${command.appId}/${command.userId} given the state of ${state.appId}/${state.userId}`);
  }
  if (!command.userId) throw new InvalidCommandError('userId is required');
  const fact: Fact = { appId: command.appId, at: now.toISOString() };
  const pii = { userId: command.userId };
  const erased = state?.erased ?? false;
  switch (command.type) {
    case 'LinkDevice':
      if (erased) throw new UserErasedError(command.appId);
      return link(command, state, fact);
    case 'UnlinkDevice':
      // Recorded even when not linked (a link from an older revision may still be on its way).
      return command.deviceRevision > (state?.deviceRevisions[command.deviceId] ?? 0)
        ? [{ type: 'UserDeviceUnlinked', data: { ...fact, deviceId: command.deviceId, deviceRevision: command.deviceRevision, reason: command.reason, pii } }]
        : [];
    case 'UpdateTraits': {
      if (erased) throw new UserErasedError(command.appId);
      const current = state?.traits ?? {};
      const observedAt = command.observedAt ?? fact.at;
      const seen = state?.traitsObservedAt ?? {};
      const changed = Object.entries(command.traits).filter(([k, v]) => !(seen[k] > observedAt) && (!(k in current) || !jsonEqual(current[k], v)));
      return changed.length ? [{ type: 'UserTraitsUpdated', data: { ...fact, ...(command.observedAt ? { observedAt } : {}), pii: { ...pii, traits: Object.fromEntries(changed) } } }] : [];
    }
    case 'Unsubscribe':
      if (erased) throw new UserErasedError(command.appId);
      return state?.unsubscribed ? [] : [{ type: 'UserUnsubscribed', data: { ...fact, pii } }];
    case 'Resubscribe':
      if (erased) throw new UserErasedError(command.appId);
      return state?.unsubscribed ? [{ type: 'UserResubscribed', data: { ...fact, pii } }] : [];
    case 'ChangeTopics': {
      if (erased) throw new UserErasedError(command.appId);
      const current = state?.topics ?? {};
      for (const [name, on] of Object.entries(command.topics)) {
        if (!TOPIC_NAME.test(name)) throw new InvalidCommandError(`topic "${name}" must be 1 to 64 letters, digits, _ or -`);
        if (typeof on !== 'boolean') throw new InvalidCommandError(`topic "${name}" must be true or false`);
      }
      const changed = Object.entries(command.topics).filter(([name, on]) => current[name] !== on);
      if (Object.keys({ ...current, ...Object.fromEntries(changed) }).length > MAX_TOPICS_PER_USER) throw new InvalidCommandError(`at most ${MAX_TOPICS_PER_USER} topics per user`);
      return changed.length ? [{ type: 'UserTopicsChanged', data: { ...fact, topics: Object.fromEntries(changed), pii } }] : [];
    }
    case 'EraseUser':
      // Also for an id never seen: the erasure suppresses it from being (re)created by late or replayed input.
      return erased ? [] : [{ type: 'UserErased', data: { ...fact, deviceIds: Object.keys(state?.devices ?? {}).sort(), pii } }];
    case 'LiftErasure':
      return erased ? [{ type: 'UserErasureLifted', data: { ...fact, pii } }] : [];
    default: {
      const _exhaustive: never = command;
      throw new InvalidCommandError(`unknown user command ${(_exhaustive as { type: string }).type}`);
    }
  }
}

function link(c: UserCommandOf<'LinkDevice'>, s: UserState | null, fact: Fact): UserEvent[] {
  if (!(c.maxDevicesPerUser >= 1)) throw new InvalidCommandError('maxDevicesPerUser must be at least 1');
  if (c.deviceRevision <= (s?.deviceRevisions[c.deviceId] ?? 0)) return [];
  const pii = { userId: c.userId };
  const events: UserEvent[] = [
    { type: 'UserDeviceLinked', data: { ...fact, deviceId: c.deviceId, deviceRevision: c.deviceRevision, lastSeenAt: c.lastSeenAt, pii } },
  ];
  const lastSeen = (id: string): number => {
    const t = Date.parse(c.knownLastSeen[id] ?? s?.devices[id]?.lastSeenAt ?? '');
    return Number.isNaN(t) ? -Infinity : t;
  };
  // The device being linked was just seen, so it is never the one to go; ties go by device id.
  const others = Object.keys(s?.devices ?? {})
    .filter((id) => id !== c.deviceId)
    .sort((a, b) => compare(lastSeen(a), lastSeen(b)) || compare(a, b));
  const excess = others.length + 1 - c.maxDevicesPerUser;
  for (const evicted of others.slice(0, Math.max(0, excess))) {
    events.push({ type: 'UserDeviceUnlinked', data: { ...fact, deviceId: evicted, deviceRevision: null, reason: 'max_devices', pii } });
  }
  return events;
}

const compare = <T extends number | string>(a: T, b: T): number => (a < b ? -1 : a > b ? 1 : 0);

export function evolveUser(state: UserState | null, event: UserEvent): UserState {
  const s: UserState = state ?? {
    appId: event.data.appId,
    userId: event.data.pii.userId,
    devices: {},
    deviceRevisions: {},
    traits: {},
    traitsObservedAt: {},
    unsubscribed: false,
    topics: {},
    erased: false,
    revision: 0,
  };
  const next = (changes: Partial<UserState>): UserState => ({ ...s, ...changes, revision: s.revision + 1 });
  switch (event.type) {
    case 'UserDeviceLinked': {
      const { deviceId, deviceRevision, lastSeenAt } = event.data;
      return next({
        devices: { ...s.devices, [deviceId]: { lastSeenAt } },
        deviceRevisions: { ...s.deviceRevisions, [deviceId]: deviceRevision },
      });
    }
    case 'UserDeviceUnlinked': {
      const { deviceId, deviceRevision } = event.data;
      const { [deviceId]: _gone, ...devices } = s.devices;
      return next({
        devices,
        deviceRevisions: deviceRevision === null ? s.deviceRevisions : { ...s.deviceRevisions, [deviceId]: deviceRevision },
      });
    }
    case 'UserTraitsUpdated': {
      const observedAt = event.data.observedAt ?? event.data.at;
      const seen = { ...(s.traitsObservedAt ?? {}) };
      // Shredded (erased) facts read back without their traits.
      for (const k of Object.keys(event.data.pii.traits ?? {})) seen[k] = observedAt;
      return next({ traits: { ...s.traits, ...event.data.pii.traits }, traitsObservedAt: seen });
    }
    case 'UserUnsubscribed':
      return next({ unsubscribed: true });
    case 'UserResubscribed':
      return next({ unsubscribed: false });
    case 'UserTopicsChanged':
      return next({ topics: { ...(s.topics ?? {}), ...event.data.topics } });
    case 'UserErased':
      return next({ devices: {}, traits: {}, traitsObservedAt: {}, unsubscribed: false, topics: {}, erased: true });
    case 'UserErasureLifted':
      return next({ erased: false });
    default: {
      const _exhaustive: never = event;
      return s;
    }
  }
}

export const userDecider: Decider<UserCommand, UserState | null, UserEvent> = {
  initialState: null,
  decide: decideUser,
  evolve: evolveUser,
};
