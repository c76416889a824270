import {
  deviceStream,
  parseStream,
  tokenStream,
  userStream,
  type DeviceAttributesPatch,
  type DeviceEvent,
  type JsonObject,
  type LifecycleSettings,
  type Platform,
  type Provider,
  type PushledgerEvent,
  tokenHash as hashOf,
} from '@pushledger/contracts';
import type { Decider } from '../src/decider';
import type { DeviceCommand } from '../src/device.commands';
import { deviceDecider, type DeviceState } from '../src/device.decider';
import { DeviceNotFoundError, UserErasedError } from '../src/domain-errors';
import { deviceFollowUps, invalidationFollowUps, membershipFollowUp, releaseFollowUp } from '../src/follow-up.policy';
import { isPastStaleWindow } from '../src/time';
import { tokenOwnershipDecider, type TokenOwnershipState } from '../src/token-ownership.decider';
import type { UserCommand } from '../src/user.commands';
import { userDecider, type UserState } from '../src/user.decider';

export interface Registration {
  deviceId: string;
  token: string;
  provider: Provider;
  platform: Platform;
  attributes: DeviceAttributesPatch;
  pushEnabled: boolean | null;
  userId: string | null;
}

/**
 * The multi-stream flows of libs/domain/README.md, in pure code over an in-memory store. One flow
 * runs at a time here, so the optimistic-concurrency retries of the real services never trigger;
 * the order of steps and the follow-ups are the same.
 */
export class InMemoryRegistry {
  readonly streams = new Map<string, PushledgerEvent[]>();

  constructor(
    readonly appId: string,
    readonly settings: LifecycleSettings,
    readonly hashToken: (token: string) => string = (token) => `h_${token}`,
  ) {}

  // ---- flows -----------------------------------------------------------------------------

  register(r: Registration, now: Date): void {
    // Checked first so that a rejected identify leaves nothing half done.
    if (r.userId !== null && this.user(r.userId)?.erased) throw new UserErasedError(this.appId);
    const tokenHash = this.hashToken(r.token);
    this.execute(tokenOwnershipDecider, tokenStream(this.appId, tokenHash), { type: 'ClaimToken', appId: this.appId, tokenHash, deviceId: r.deviceId }, now);
    const ownership = this.token(r.token)!;
    this.onDevice(
      {
        type: 'RegisterToken',
        appId: this.appId,
        deviceId: r.deviceId,
        token: r.token,
        provider: r.provider,
        platform: r.platform,
        claim: ownership.claim,
        attributes: r.attributes,
        pushEnabled: r.pushEnabled,
      },
      now,
    );
    const release = releaseFollowUp(r.token, r.deviceId, ownership);
    if (release) this.onDevice(release, now);
    // Closes the race with an invalidation that retired the token after our claim.
    if (this.token(r.token)?.retired) this.onDevice({ type: 'InvalidateToken', appId: this.appId, deviceId: r.deviceId, tokenHash: hashOf(r.token), reason: 'retired', messageId: null }, now);
    if (r.userId !== null) this.identify(r.deviceId, r.userId, null, now);
  }

  identify(deviceId: string, userId: string, traits: JsonObject | null, now: Date): void {
    if (this.user(userId)?.erased) throw new UserErasedError(this.appId);
    this.onDevice({ type: 'Identify', appId: this.appId, deviceId, userId }, now);
    if (traits) this.onUser({ type: 'UpdateTraits', appId: this.appId, userId, traits }, now);
  }

  logout(deviceId: string, expectedOwner: string, now: Date): void {
    this.onDevice({ type: 'Logout', appId: this.appId, deviceId, expectedOwner }, now);
  }

  invalidate(token: string, report: { deviceId: string | null; reason: string; messageId: string | null }, now: Date): void {
    const tokenHash = this.hashToken(token);
    this.execute(tokenOwnershipDecider, tokenStream(this.appId, tokenHash), { type: 'RetireToken', appId: this.appId, tokenHash, deviceId: report.deviceId, reason: report.reason }, now);
    for (const command of invalidationFollowUps(hashOf(token), this.token(token)!, report)) {
      try {
        this.onDevice(command, now);
      } catch (e) {
        // A report naming a device that does not exist: nothing to invalidate there.
        if (!(e instanceof DeviceNotFoundError)) throw e;
      }
    }
  }

  /** The staleness job: query by lastSeenAt, let each device decide on its own state. */
  expireStale(now: Date): void {
    for (const id of this.deviceIds()) {
      const d = this.device(id);
      if (d && d.status === 'active' && isPastStaleWindow(d.lastSeenAt, now, this.settings.staleAfterDays)) {
        this.onDevice({ type: 'ExpireToken', appId: this.appId, deviceId: id, staleAfterDays: this.settings.staleAfterDays }, now);
      }
    }
  }

  erase(userId: string, now: Date): void {
    this.onUser({ type: 'EraseUser', appId: this.appId, userId }, now);
    // The user stream may lag the devices; anything the device read model still shows as theirs goes too.
    for (const id of this.deviceIds()) {
      if (this.device(id)?.userId === userId) this.onDevice({ type: 'AnonymiseDevice', appId: this.appId, deviceId: id, userId }, now);
    }
  }

  // ---- reads -----------------------------------------------------------------------------

  device(deviceId: string): DeviceState | null {
    return this.fold(deviceDecider, deviceStream(this.appId, deviceId));
  }
  user(userId: string): UserState | null {
    return this.fold(userDecider, userStream(this.appId, userId));
  }
  token(token: string): TokenOwnershipState | null {
    return this.fold(tokenOwnershipDecider, tokenStream(this.appId, this.hashToken(token)));
  }
  deviceIds(): string[] {
    return this.idsIn('device');
  }
  userIds(): string[] {
    return this.idsIn('user');
  }
  history(stream: string): PushledgerEvent[] {
    return this.streams.get(stream) ?? [];
  }
  eventCount(): number {
    let n = 0;
    for (const events of this.streams.values()) n += events.length;
    return n;
  }

  // ---- plumbing --------------------------------------------------------------------------

  /** A single-device flow (seen, permission, outcomes, ...) plus the user-stream follow-ups of its facts. */
  onDevice(command: DeviceCommand, now: Date): DeviceEvent[] {
    const { events, revisionBefore } = this.execute(deviceDecider, deviceStream(this.appId, command.deviceId), command, now);
    events.forEach((event, i) => {
      const knownLastSeen = event.type === 'Identified' ? this.lastSeenOfDevicesOf(event.data.pii.userId) : {};
      const follow = membershipFollowUp(event, revisionBefore + i + 1, { maxDevicesPerUser: this.settings.maxDevicesPerUser, knownLastSeen });
      if (follow) this.onUser(follow, now);
    });
    return events;
  }

  /** A user-stream command plus the device follow-ups of its facts (detach, anonymise). */
  onUser(command: UserCommand, now: Date): void {
    let events;
    try {
      events = this.execute(userDecider, userStream(this.appId, command.userId), command, now).events;
    } catch (e) {
      // Erased between the check and the link: undo the device's identification.
      if (e instanceof UserErasedError && command.type === 'LinkDevice') {
        this.onDevice({ type: 'AnonymiseDevice', appId: this.appId, deviceId: command.deviceId, userId: command.userId }, now);
        return;
      }
      throw e;
    }
    for (const follow of deviceFollowUps(events)) this.onDevice(follow, now);
  }

  private lastSeenOfDevicesOf(userId: string): Record<string, string> {
    const ids = Object.keys(this.user(userId)?.devices ?? {});
    return Object.fromEntries(ids.flatMap((id) => {
      const d = this.device(id);
      return d ? [[id, d.lastSeenAt]] : [];
    }));
  }

  private execute<C, S, E extends PushledgerEvent>(decider: Decider<C, S, E>, stream: string, command: C, now: Date): { events: E[]; revisionBefore: number } {
    const history = this.history(stream) as E[];
    const events = decider.decide(command, history.reduce(decider.evolve, decider.initialState), now);
    if (events.length) this.streams.set(stream, [...history, ...events]);
    return { events, revisionBefore: history.length };
  }

  private fold<S, E extends PushledgerEvent>(decider: Decider<unknown, S, E>, stream: string): S {
    return (this.history(stream) as E[]).reduce(decider.evolve, decider.initialState);
  }

  private idsIn(category: string): string[] {
    return [...this.streams.keys()].flatMap((s) => {
      const p = parseStream(s);
      return p && p.category === category && p.appId === this.appId ? [p.id] : [];
    });
  }
}
