import type { UserEvent, UserEventOf, UserEventType } from '@pushledger/contracts';
import { givenFor } from '../test/given';
import { APP, T0, after, days, minutes } from '../test/fixtures';
import { InvalidCommandError, UserErasedError } from './domain-errors';
import type { UserCommand, UserCommandOf, UserCommandType } from './user.commands';
import { userDecider } from './user.decider';

const given = givenFor(userDecider);
const U = 'u1';
const T1 = after(minutes(5));
const iso = (d: Date) => d.toISOString();

function ucmd<T extends UserCommandType>(type: T, fields: Omit<UserCommandOf<T>, 'type' | 'appId' | 'userId'>): UserCommand {
  return { ...fields, type, appId: APP, userId: U } as UserCommand;
}
function uev<T extends UserEventType>(type: T, now: Date, fields: Omit<UserEventOf<T>['data'], 'appId' | 'at' | 'pii'> & { traits?: object } = {} as never): UserEvent {
  const { traits, ...rest } = fields as { traits?: object };
  return { type, data: { ...rest, appId: APP, at: iso(now), pii: traits ? { userId: U, traits } : { userId: U } } } as UserEvent;
}
const linkCmd = (deviceId: string, deviceRevision: number, max = 3, knownLastSeen: Record<string, string> = {}, lastSeenAt = iso(T1)) =>
  ucmd('LinkDevice', { deviceId, deviceRevision, lastSeenAt, knownLastSeen, maxDevicesPerUser: max });
const linked = (deviceId: string, deviceRevision: number, lastSeen: Date) =>
  uev('UserDeviceLinked', lastSeen, { deviceId, deviceRevision, lastSeenAt: iso(lastSeen) });
const evicted = (deviceId: string, now = T1) => uev('UserDeviceUnlinked', now, { deviceId, deviceRevision: null, reason: 'max_devices' });

describe('user decider', () => {
  describe('rule 2: a user has many devices, up to maxDevicesPerUser', () => {
    it('links a device', () => {
      const state = given([]).when(linkCmd('d1', 2), T1).then([uev('UserDeviceLinked', T1, { deviceId: 'd1', deviceRevision: 2, lastSeenAt: iso(T1) })]);
      expect(Object.keys(state?.devices ?? {})).toEqual(['d1']);
    });

    it('past the maximum the least recently seen other device is detached', () => {
      given([linked('d1', 2, after(days(2))), linked('d2', 2, T0), linked('d3', 2, after(days(1)))])
        .when(linkCmd('d4', 2), T1)
        .then([uev('UserDeviceLinked', T1, { deviceId: 'd4', deviceRevision: 2, lastSeenAt: iso(T1) }), evicted('d2')]);
    });

    it('uses the fresher lastSeenAt the service knows, and breaks ties by device id', () => {
      const history = [linked('d1', 2, T0), linked('d2', 2, T0)];
      given(history)
        .when(linkCmd('d3', 2, 2, { d1: iso(after(days(1))) }), T1)
        .then([uev('UserDeviceLinked', T1, { deviceId: 'd3', deviceRevision: 2, lastSeenAt: iso(T1) }), evicted('d2')]);
      given(history)
        .when(linkCmd('d3', 2, 2), T1)
        .then([uev('UserDeviceLinked', T1, { deviceId: 'd3', deviceRevision: 2, lastSeenAt: iso(T1) }), evicted('d1')]);
    });

    it('never evicts the device being linked, and evicts several if the maximum was lowered', () => {
      given([linked('d1', 2, T0), linked('d2', 2, after(days(1))), linked('d3', 2, after(days(2)))])
        .when(linkCmd('d1', 5, 1), T1)
        .then([uev('UserDeviceLinked', T1, { deviceId: 'd1', deviceRevision: 5, lastSeenAt: iso(T1) }), evicted('d2'), evicted('d3')]);
    });

    it('ignores a link it already followed (same or older device revision)', () => {
      given([linked('d1', 4, T0)]).when(linkCmd('d1', 4), T1).then([]);
      given([linked('d1', 4, T0)]).when(linkCmd('d1', 3), T1).then([]);
    });

    it('ignores a late link once a newer unlink was followed, even out of order', () => {
      given([uev('UserDeviceUnlinked', T0, { deviceId: 'd1', deviceRevision: 7, reason: 'moved' })]).when(linkCmd('d1', 5), T1).then([]);
    });

    it('unlinks a device that logged out or moved; a repeated unlink changes nothing', () => {
      const unlinked = uev('UserDeviceUnlinked', T1, { deviceId: 'd1', deviceRevision: 5, reason: 'logout' });
      const state = given([linked('d1', 3, T0)]).when(ucmd('UnlinkDevice', { deviceId: 'd1', deviceRevision: 5, reason: 'logout' }), T1).then([unlinked]);
      expect(state?.devices).toEqual({});
      given([linked('d1', 3, T0), unlinked]).when(ucmd('UnlinkDevice', { deviceId: 'd1', deviceRevision: 5, reason: 'logout' }), T1).then([]);
    });

    it('rejects a maximum below one', () => {
      given([]).when(linkCmd('d1', 2, 0), T1).thenThrows(InvalidCommandError);
    });
  });

  describe('rule 8: unsubscribe is consent, at user level', () => {
    it('unsubscribes and resubscribes, each once', () => {
      given([]).when(ucmd('Unsubscribe', {}), T1).then([uev('UserUnsubscribed', T1)]);
      given([uev('UserUnsubscribed', T0)]).when(ucmd('Unsubscribe', {}), T1).then([]);
      given([uev('UserUnsubscribed', T0)]).when(ucmd('Resubscribe', {}), T1).then([uev('UserResubscribed', T1)]);
      given([]).when(ucmd('Resubscribe', {}), T1).then([]);
    });
  });

  describe('subscription topics: per-topic consent beside the global switch', () => {
    it('records only the topics whose setting changes, and folds them into the state', () => {
      const state = given([uev('UserTopicsChanged', T0, { topics: { news: false, promos: true } })])
        .when(ucmd('ChangeTopics', { topics: { news: false, promos: false, offers: true } }), T1)
        .then([uev('UserTopicsChanged', T1, { topics: { promos: false, offers: true } })]);
      expect(state?.topics).toEqual({ news: false, promos: false, offers: true });
    });

    it('records nothing when every topic already has that setting', () => {
      given([uev('UserTopicsChanged', T0, { topics: { news: false } })]).when(ucmd('ChangeTopics', { topics: { news: false } }), T1).then([]);
    });

    it('leaves the global unsubscribe alone, and the global unsubscribe leaves topics alone', () => {
      const state = given([uev('UserUnsubscribed', T0)]).when(ucmd('ChangeTopics', { topics: { news: true } }), T1).then([uev('UserTopicsChanged', T1, { topics: { news: true } })]);
      expect(state?.unsubscribed).toBe(true);
      const after = given([uev('UserTopicsChanged', T0, { topics: { news: false } })]).when(ucmd('Resubscribe', {}), T1).then([]);
      expect(after?.topics).toEqual({ news: false });
    });

    it('rejects a topic name that is not a safe name, and a setting that is not a boolean', () => {
      given([]).when(ucmd('ChangeTopics', { topics: { 'a.b': false } }), T1).thenThrows(InvalidCommandError);
      given([]).when(ucmd('ChangeTopics', { topics: { news: 'no' as never } }), T1).thenThrows(InvalidCommandError);
    });

    it('refuses an erased user, and erasure forgets their topics', () => {
      given([uev('UserErased', T0, { deviceIds: [] })]).when(ucmd('ChangeTopics', { topics: { news: false } }), T1).thenThrows(UserErasedError);
      const state = given([uev('UserTopicsChanged', T0, { topics: { news: false } })]).when(ucmd('EraseUser', {}), T1).then([uev('UserErased', T1, { deviceIds: [] })]);
      expect(state?.topics).toEqual({});
    });
  });

  describe('rule 10: traits merge idempotently', () => {
    it('records only the traits that change', () => {
      const state = given([uev('UserTraitsUpdated', T0, { traits: { plan: 'pro', tags: ['a'] } })])
        .when(ucmd('UpdateTraits', { traits: { plan: 'pro', tags: ['a', 'b'], email: null } }), T1)
        .then([uev('UserTraitsUpdated', T1, { traits: { tags: ['a', 'b'], email: null } })]);
      expect(state?.traits).toEqual({ plan: 'pro', tags: ['a', 'b'], email: null });
      given([uev('UserTraitsUpdated', T0, { traits: { plan: 'pro', nested: { x: 1, y: [true] } } })])
        .when(ucmd('UpdateTraits', { traits: { nested: { y: [true], x: 1 } } }), T1)
        .then([]);
    });

    it('a trait observed before its stored value changes nothing; its other traits still apply', () => {
      const early = iso(after(minutes(1)));
      const late = iso(after(minutes(2)));
      const state = given([uev('UserTraitsUpdated', T1, { observedAt: late, traits: { plan: 'team', step: 3 } })])
        .when(ucmd('UpdateTraits', { traits: { plan: 'free', step: 1, email: 'a@example.com' }, observedAt: early }), T1)
        .then([uev('UserTraitsUpdated', T1, { observedAt: early, traits: { email: 'a@example.com' } })]);
      expect(state?.traits).toEqual({ plan: 'team', step: 3, email: 'a@example.com' });
      // The same observation time, or a later one, replaces it; a command without one is observed when decided.
      given([uev('UserTraitsUpdated', T1, { observedAt: late, traits: { plan: 'team' } })])
        .when(ucmd('UpdateTraits', { traits: { plan: 'pro' }, observedAt: late }), T1)
        .then([uev('UserTraitsUpdated', T1, { observedAt: late, traits: { plan: 'pro' } })]);
      given([uev('UserTraitsUpdated', T1, { observedAt: late, traits: { plan: 'team' } })])
        .when(ucmd('UpdateTraits', { traits: { plan: 'pro' } }), T1)
        .then([uev('UserTraitsUpdated', T1, { traits: { plan: 'pro' } })]);
    });

    it('after an erasure no earlier observation holds a trait back', () => {
      const late = iso(after(days(1)));
      given([uev('UserTraitsUpdated', T0, { observedAt: late, traits: { plan: 'team' } }), uev('UserErased', T0, { deviceIds: [] }), uev('UserErasureLifted', T0)])
        .when(ucmd('UpdateTraits', { traits: { plan: 'pro' } }), T1)
        .then([uev('UserTraitsUpdated', T1, { traits: { plan: 'pro' } })]);
    });
  });

  describe('rule 11: erasure', () => {
    const erased = uev('UserErased', T1, { deviceIds: ['d1', 'd2'] });

    it('erases the user, naming the devices to anonymise', () => {
      const state = given([linked('d2', 2, T0), linked('d1', 2, T0), uev('UserTraitsUpdated', T0, { traits: { email: 'a@b.c' } })])
        .when(ucmd('EraseUser', {}), T1)
        .then([erased]);
      expect(state).toMatchObject({ erased: true, devices: {}, traits: {} });
    });

    it('erasing twice changes nothing; an unknown id is erased (suppressed) too', () => {
      given([erased]).when(ucmd('EraseUser', {}), T1).then([]);
      given([]).when(ucmd('EraseUser', {}), T1).then([uev('UserErased', T1, { deviceIds: [] })]);
    });

    it('an erased id cannot be identified, given traits or subscribed until lifted', () => {
      given([erased]).when(linkCmd('d3', 2), T1).thenThrows(UserErasedError);
      given([erased]).when(ucmd('UpdateTraits', { traits: { a: 1 } }), T1).thenThrows(UserErasedError);
      given([erased]).when(ucmd('Unsubscribe', {}), T1).thenThrows(UserErasedError);
      given([erased]).when(ucmd('LiftErasure', {}), T1).then([uev('UserErasureLifted', T1)]);
      given([erased, uev('UserErasureLifted', T1)]).when(linkCmd('d3', 2), T1).then([uev('UserDeviceLinked', T1, { deviceId: 'd3', deviceRevision: 2, lastSeenAt: iso(T1) })]);
      given([]).when(ucmd('LiftErasure', {}), T1).then([]);
    });
  });
});
