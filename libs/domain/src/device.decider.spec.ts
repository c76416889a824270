import { tokenHash } from '@pushledger/contracts';
import { givenFor } from '../test/given';
import { APP, DEV, T0, after, cmd, days, ev, hours, minutes, register, registered } from '../test/fixtures';
import { RECENT_MESSAGE_IDS, deviceDecider, EMPTY_ATTRIBUTES } from './device.decider';
import { toDeviceView } from './device.view';
import { DeviceNotFoundError, InvalidCommandError, TokenInvalidatedError } from './domain-errors';

const given = givenFor(deviceDecider);
const T1 = after(minutes(5));
const identified = (userId: string, now: Date = T0) => ev('Identified', now, { pii: { userId } });
const sent = (messageId: string, now: Date = T0) => ev('PushSent', now, { messageId });
const bounced = (messageId: string, consecutiveBounces: number, now: Date = T0) =>
  ev('PushBounced', now, { messageId, reason: 'UNAVAILABLE', consecutiveBounces });
const bounce = (messageId: string, token = 'tok-a') => cmd('RecordPushBounced', { tokenHash: tokenHash(token), messageId, reason: 'UNAVAILABLE' });
const pushSent = (messageId: string, token = 'tok-a') => cmd('RecordPushSent', { tokenHash: tokenHash(token), messageId });

describe('device decider', () => {
  describe('rule 1: a token is anonymous until identified', () => {
    it('registers a new device as anonymous and active', () => {
      const state = given([])
        .when(register('tok-a', { attributes: { model: 'Pixel 8', locale: 'de-DE' }, pushEnabled: true }), T0)
        .then([
          ev('TokenRegistered', T0, {
            token: 'tok-a',
            provider: 'fcm',
            platform: 'android',
            claim: 1,
            attributes: { ...EMPTY_ATTRIBUTES, model: 'Pixel 8', locale: 'de-DE' },
            pushEnabled: true,
          }),
        ]);
      expect(state).toMatchObject({ userId: null, status: 'active', lastStatus: 'unused', registeredAt: T0.toISOString(), revision: 1 });
    });

    it('identifies an anonymous device', () => {
      const state = given([registered('tok-a')]).when(cmd('Identify', { userId: 'u1' }), T1).then([identified('u1', T1)]);
      expect(state?.userId).toBe('u1');
    });

    it('rejects commands for a device that does not exist', () => {
      given([]).when(cmd('Identify', { userId: 'u1' }), T0).thenThrows(DeviceNotFoundError);
      given([]).when(cmd('MarkSeen', {}), T0).thenThrows(DeviceNotFoundError);
    });

    it('rejects a command addressed to another device than the state', () => {
      given([registered('tok-a')]).when(cmd('MarkSeen', { deviceId: 'dev-other' }), T1).thenThrows(InvalidCommandError);
    });
  });

  describe('rule 2: a device belongs to at most one user', () => {
    it('moves the device: LoggedOut from the old owner, then Identified', () => {
      given([registered('tok-a'), identified('u1')])
        .when(cmd('Identify', { userId: 'u2' }), T1)
        .then([ev('LoggedOut', T1, { reason: 'moved', pii: { userId: 'u1' } }), identified('u2', T1)]);
    });

    it('identifying the same user again changes nothing', () => {
      given([registered('tok-a'), identified('u1')]).when(cmd('Identify', { userId: 'u1' }), T1).then([]);
    });

    it('detaches the device for max devices only from the owner the user stream named', () => {
      given([registered('tok-a'), identified('u1')])
        .when(cmd('DetachDevice', { expectedOwner: 'u1', reason: 'max_devices' }), T1)
        .then([ev('DeviceDetached', T1, { reason: 'max_devices', pii: { userId: 'u1' } })]);
      given([registered('tok-a'), identified('u2')]).when(cmd('DetachDevice', { expectedOwner: 'u1', reason: 'max_devices' }), T1).then([]);
    });
  });

  describe('rule 3: a token belongs to one device', () => {
    const release = (claim: number) => cmd('ReleaseToken', { token: 'tok-a', toDeviceId: 'dev-2', claim });

    it('releases the token when another device claimed it', () => {
      const state = given([registered('tok-a')])
        .when(release(2), T1)
        .then([ev('TokenReleased', T1, { token: 'tok-a', toDeviceId: 'dev-2', claim: 2 })]);
      expect(state).toMatchObject({ token: null, status: 'invalid', tokenRegisteredAt: null });
    });

    it('ignores a release of a token it no longer holds', () => {
      given([registered('tok-a'), ev('TokenRefreshed', T1, { previousToken: 'tok-a', token: 'tok-b', provider: 'fcm', platform: 'android', claim: 1 })])
        .when(release(2), T1)
        .then([]);
    });

    it('ignores a late release once it re-claimed the token (fenced by the claim)', () => {
      given([registered('tok-a'), ev('TokenReclaimed', T1, { token: 'tok-a', claim: 3 })]).when(release(2), T1).then([]);
    });

    it('records a re-claim of its own token', () => {
      given([registered('tok-a')]).when(register('tok-a', { claim: 3 }), T1).then([ev('TokenReclaimed', T1, { token: 'tok-a', claim: 3 })]);
    });

    it('a released device comes back with a new token', () => {
      const state = given([registered('tok-a'), ev('TokenReleased', T1, { token: 'tok-a', toDeviceId: 'dev-2', claim: 2 })])
        .when(register('tok-c', { claim: 1 }), T1)
        .then([ev('TokenRefreshed', T1, { previousToken: null, token: 'tok-c', provider: 'fcm', platform: 'android', claim: 1 })]);
      expect(state).toMatchObject({ token: 'tok-c', status: 'active' });
    });

    it('a release for a device that never existed is a no-op', () => {
      given([]).when(release(2), T1).then([]);
    });
  });

  describe('rule 4: logout names the owner it expects', () => {
    it('logs out the expected owner', () => {
      const state = given([registered('tok-a'), identified('u1')])
        .when(cmd('Logout', { expectedOwner: 'u1' }), T1)
        .then([ev('LoggedOut', T1, { reason: 'logout', pii: { userId: 'u1' } })]);
      expect(state).toMatchObject({ userId: null, token: 'tok-a', status: 'active' });
    });

    it('a repeated logout changes nothing', () => {
      given([registered('tok-a'), identified('u1'), ev('LoggedOut', T1, { reason: 'logout', pii: { userId: 'u1' } })])
        .when(cmd('Logout', { expectedOwner: 'u1' }), T1)
        .then([]);
    });

    it('a late logout after the device moved to another user changes nothing', () => {
      given([registered('tok-a'), identified('u1'), ev('LoggedOut', T1, { reason: 'moved', pii: { userId: 'u1' } }), identified('u2', T1)])
        .when(cmd('Logout', { expectedOwner: 'u1' }), T1)
        .then([]);
    });
  });

  describe('rule 5: an invalidated token is never valid again', () => {
    const invalidated = ev('TokenInvalidated', T1, { token: 'tok-a', reason: 'UNREGISTERED', messageId: 'm1' });

    it('invalidates the current token', () => {
      const state = given([registered('tok-a')])
        .when(cmd('InvalidateToken', { tokenHash: tokenHash('tok-a'), reason: 'UNREGISTERED', messageId: 'm1' }), T1)
        .then([invalidated]);
      expect(state?.status).toBe('invalid');
    });

    it('rejects registering the invalidated token again', () => {
      given([registered('tok-a'), invalidated]).when(register('tok-a'), T1).thenThrows(TokenInvalidatedError);
    });

    it('a new token for the same device revives it', () => {
      const state = given([registered('tok-a'), invalidated])
        .when(register('tok-b', { claim: 1 }), after(hours(2)))
        .then([ev('TokenRefreshed', after(hours(2)), { previousToken: 'tok-a', token: 'tok-b', provider: 'fcm', platform: 'android', claim: 1 })]);
      expect(state).toMatchObject({ status: 'active', token: 'tok-b', lastStatus: 'unused' });
    });

    it('an invalidation of a token the device no longer holds changes nothing', () => {
      given([registered('tok-a'), ev('TokenRefreshed', T1, { previousToken: 'tok-a', token: 'tok-b', provider: 'fcm', platform: 'android', claim: 1 })])
        .when(cmd('InvalidateToken', { tokenHash: tokenHash('tok-a'), reason: 'UNREGISTERED', messageId: null }), T1)
        .then([]);
    });

    it('invalidating twice changes nothing', () => {
      given([registered('tok-a'), invalidated]).when(cmd('InvalidateToken', { tokenHash: tokenHash('tok-a'), reason: 'UNREGISTERED', messageId: 'm2' }), T1).then([]);
    });

    it('APNs 410: a token registered after the provider last knew it dead stays valid; one registered before is invalidated', () => {
      const before = new Date(T0.getTime() - 60_000).toISOString();
      given([registered('tok-a')]).when(cmd('InvalidateToken', { tokenHash: tokenHash('tok-a'), reason: 'Unregistered', messageId: 'm1', invalidSince: before }), T1).then([]);
      given([registered('tok-a')])
        .when(cmd('InvalidateToken', { tokenHash: tokenHash('tok-a'), reason: 'Unregistered', messageId: 'm1', invalidSince: after(minutes(1)).toISOString() }), T1)
        .then([ev('TokenInvalidated', T1, { token: 'tok-a', reason: 'Unregistered', messageId: 'm1' })]);
    });

    it('a sighting does not revive an invalid token', () => {
      const state = given([registered('tok-a'), invalidated]).when(cmd('MarkSeen', {}), after(hours(3))).then([ev('DeviceSeen', after(hours(3)), {})]);
      expect(state?.status).toBe('invalid');
    });
  });

  describe('rule 6: last status and suppression', () => {
    it('unused → sent on PushSent', () => {
      const state = given([registered('tok-a')]).when(pushSent('m1'), T1).then([sent('m1', T1)]);
      expect(state?.lastStatus).toBe('sent');
    });

    it('a success after a success changes nothing, so it is no fact', () => {
      const state = given([registered('tok-a'), sent('m1')]).when(pushSent('m2'), T1).then([]);
      expect(state).toMatchObject({ lastStatus: 'sent', consecutiveBounces: 0, revision: 2 });
    });

    it('a success after a bounce is a fact: it ends the run of bounces', () => {
      const state = given([registered('tok-a'), sent('m1'), bounced('m2', 1)]).when(pushSent('m3'), T1).then([sent('m3', T1)]);
      expect(state).toMatchObject({ lastStatus: 'sent', consecutiveBounces: 0 });
    });

    it('two bounces after a run of unrecorded successes still suppress', () => {
      let events = [registered('tok-a'), sent('m1')];
      for (const id of ['m2', 'm3', 'm4']) given(events).when(pushSent(id), T1).then([]);
      events = [...events, bounced('m5', 1)];
      given(events).when(bounce('m6'), T1).then([bounced('m6', 2, T1), ev('DeviceSuppressed', T1, { messageId: 'm6' })]);
    });

    it('a bounce makes it bounced', () => {
      const state = given([registered('tok-a'), sent('m1')]).when(bounce('m2'), T1).then([bounced('m2', 1, T1)]);
      expect(state).toMatchObject({ lastStatus: 'bounced', consecutiveBounces: 1 });
    });

    it('a second consecutive bounce suppresses', () => {
      const state = given([registered('tok-a'), bounced('m1', 1)])
        .when(bounce('m2'), T1)
        .then([bounced('m2', 2, T1), ev('DeviceSuppressed', T1, { messageId: 'm2' })]);
      expect(state).toMatchObject({ lastStatus: 'suppressed', consecutiveBounces: 2 });
    });

    it('a success in between resets the count', () => {
      given([registered('tok-a'), bounced('m1', 1), sent('m2')]).when(bounce('m3'), T1).then([bounced('m3', 1, T1)]);
    });

    it('a further bounce of a suppressed device does not suppress again', () => {
      given([registered('tok-a'), bounced('m1', 1), bounced('m2', 2), ev('DeviceSuppressed', T0, { messageId: 'm2' })])
        .when(bounce('m3'), T1)
        .then([bounced('m3', 3, T1)]);
    });

    it('identify with the same token resets suppressed to unused', () => {
      const state = given([registered('tok-a'), identified('u1'), bounced('m1', 1), bounced('m2', 2), ev('DeviceSuppressed', T0, { messageId: 'm2' })])
        .when(cmd('Identify', { userId: 'u1' }), T1)
        .then([ev('DeliveryStatusReset', T1, { previous: 'suppressed', cause: 'identified' })]);
      expect(state).toMatchObject({ lastStatus: 'unused', consecutiveBounces: 0 });
    });

    it('identify as another user also resets', () => {
      given([registered('tok-a'), bounced('m1', 1)])
        .when(cmd('Identify', { userId: 'u2' }), T1)
        .then([identified('u2', T1), ev('DeliveryStatusReset', T1, { previous: 'bounced', cause: 'identified' })]);
    });

    it('re-registering the same token resets bounced to unused', () => {
      given([registered('tok-a'), bounced('m1', 1)])
        .when(register('tok-a'), T1)
        .then([ev('DeliveryStatusReset', T1, { previous: 'bounced', cause: 'reregistered' })]);
    });

    it('an outcome for a token the device no longer holds changes nothing', () => {
      given([registered('tok-a'), ev('TokenRefreshed', T1, { previousToken: 'tok-a', token: 'tok-b', provider: 'fcm', platform: 'android', claim: 1 })])
        .when(bounce('m1', 'tok-a'), T1)
        .then([]);
    });
  });

  describe('rule 7: stale is not invalid', () => {
    const expire = cmd('ExpireToken', { staleAfterDays: 60 });
    const D60 = after(days(60));
    const expired = ev('TokenExpired', D60, { token: 'tok-a', lastSeenAt: T0.toISOString(), staleAfterDays: 60 });

    it('expires a token not seen for staleAfterDays', () => {
      const state = given([registered('tok-a')]).when(expire, D60).then([expired]);
      expect(state?.status).toBe('stale');
    });

    it('does not expire a token seen within the window', () => {
      given([registered('tok-a')]).when(expire, after(days(60) - 1)).then([]);
      given([registered('tok-a'), ev('DeviceSeen', after(days(30)), {})]).when(expire, D60).then([]);
    });

    it('expiring twice changes nothing; an invalid token is not expired', () => {
      given([registered('tok-a'), expired]).when(expire, after(days(61))).then([]);
      given([registered('tok-a'), ev('TokenInvalidated', T1, { token: 'tok-a', reason: 'UNREGISTERED', messageId: null })]).when(expire, D60).then([]);
    });

    it('opening the app revives a stale token', () => {
      const D61 = after(days(61));
      const state = given([registered('tok-a'), expired]).when(cmd('MarkSeen', {}), D61).then([ev('TokenRevived', D61, { token: 'tok-a' })]);
      expect(state).toMatchObject({ status: 'active', lastSeenAt: D61.toISOString() });
    });

    it('registering the same token revives it', () => {
      const D61 = after(days(61));
      given([registered('tok-a'), expired]).when(register('tok-a'), D61).then([ev('TokenRevived', D61, { token: 'tok-a' })]);
    });

    it('identifying revives it', () => {
      const D61 = after(days(61));
      given([registered('tok-a'), expired])
        .when(cmd('Identify', { userId: 'u1' }), D61)
        .then([identified('u1', D61), ev('TokenRevived', D61, { token: 'tok-a' })]);
    });

    it('rejects a non-positive window', () => {
      given([registered('tok-a')]).when(cmd('ExpireToken', { staleAfterDays: 0 }), D60).thenThrows(InvalidCommandError);
    });
  });

  describe('rule 8: OS permission is recorded, separate from consent and validity', () => {
    it('records a permission change', () => {
      const state = given([registered('tok-a', T0, { pushEnabled: true })])
        .when(cmd('ChangePushPermission', { pushEnabled: false }), T1)
        .then([ev('PushPermissionChanged', T1, { pushEnabled: false, previous: true })]);
      expect(state).toMatchObject({ pushEnabled: false, status: 'active' });
    });

    it('the same permission again changes nothing; a registration that does not report it keeps it', () => {
      given([registered('tok-a', T0, { pushEnabled: true })]).when(cmd('ChangePushPermission', { pushEnabled: true }), T1).then([]);
      given([registered('tok-a', T0, { pushEnabled: true })]).when(register('tok-a', { pushEnabled: null }), T1).then([]);
    });

    it('a registration reporting a new permission records it', () => {
      given([registered('tok-a')])
        .when(register('tok-a', { pushEnabled: true }), T1)
        .then([ev('PushPermissionChanged', T1, { pushEnabled: true, previous: null })]);
    });
  });

  describe('rule 10: idempotent commands', () => {
    it('registering the same token and attributes within the hour yields nothing', () => {
      given([registered('tok-a')]).when(register('tok-a'), after(minutes(59))).then([]);
    });

    it('after an hour it records one DeviceSeen', () => {
      const H1 = after(hours(1));
      const state = given([registered('tok-a')]).when(register('tok-a'), H1).then([ev('DeviceSeen', H1, {})]);
      expect(state?.lastSeenAt).toBe(H1.toISOString());
    });

    it('app opened: DeviceSeen at most once per hour', () => {
      given([registered('tok-a')]).when(cmd('MarkSeen', {}), after(minutes(30))).then([]);
      given([registered('tok-a'), ev('DeviceSeen', after(hours(1)), {})]).when(cmd('MarkSeen', {}), after(hours(1) + minutes(30))).then([]);
    });

    it('changed attributes are recorded, unchanged ones are not', () => {
      given([registered('tok-a')])
        .when(register('tok-a', { attributes: { appVersion: '2.0.0', model: null } }), T1)
        .then([ev('DeviceAttributesUpdated', T1, { attributes: { ...EMPTY_ATTRIBUTES, appVersion: '2.0.0' }, changed: ['appVersion'] })]);
      given([registered('tok-a')]).when(cmd('UpdateDeviceAttributes', { attributes: { model: null } }), T1).then([]);
    });

    it('a redelivered outcome yields nothing', () => {
      given([registered('tok-a'), bounced('m1', 1)]).when(bounce('m1'), T1).then([]);
      given([registered('tok-a'), sent('m1')]).when(pushSent('m1'), T1).then([]);
    });

    it(`remembers the last ${RECENT_MESSAGE_IDS} messages`, () => {
      // Ends bounced, so that a success would be a fact if it were not a redelivery.
      const history = [registered('tok-a'), ...Array.from({ length: RECENT_MESSAGE_IDS }, (_, i) => sent(`m${i}`)), bounced('mb', 1)];
      given(history).when(pushSent(`m${RECENT_MESSAGE_IDS - 1}`), T1).then([]);
      given(history).when(pushSent('m1'), T1).then([]);
      // m0 fell out of the window: a redelivery this late is recorded again.
      given(history).when(pushSent('m0'), T1).then([sent('m0', T1)]);
    });
  });

  describe('rule 11: erasure anonymises the devices of the erased user', () => {
    it('drops the owner and carries no personal data', () => {
      const state = given([registered('tok-a'), identified('u1')])
        .when(cmd('AnonymiseDevice', { userId: 'u1' }), T1)
        .then([ev('DeviceAnonymised', T1, {})]);
      expect(state).toMatchObject({ userId: null, token: 'tok-a', status: 'active' });
    });

    it('leaves a device that moved to someone else alone', () => {
      given([registered('tok-a'), identified('u2')]).when(cmd('AnonymiseDevice', { userId: 'u1' }), T1).then([]);
    });
  });

  describe('rule 12: unregistering deletes the registration, its history stays', () => {
    const unregister = cmd('UnregisterDevice', {});
    const gone = (token: string | null, now: Date = T1) => ev('DeviceUnregistered', now, { token });

    it('logs the owner out first (so the user\'s device list follows), then the device goes without its token', () => {
      const state = given([registered('tok-a'), identified('u1'), sent('m1')])
        .when(unregister, T1)
        .then([ev('LoggedOut', T1, { reason: 'unregistered', pii: { userId: 'u1' } }), gone('tok-a')]);
      expect(state).toMatchObject({ userId: null, token: null, status: 'unregistered', lastStatus: 'unused', tokenRegisteredAt: null, revision: 5 });
    });

    it('an anonymous device just goes; one whose token moved away goes without a token', () => {
      given([registered('tok-a')]).when(unregister, T1).then([gone('tok-a')]);
      given([registered('tok-a'), ev('TokenReleased', T1, { token: 'tok-a', toDeviceId: 'dev-2', claim: 2 })]).when(unregister, T1).then([gone(null)]);
    });

    it('unregistering again changes nothing; a device that never existed is not found', () => {
      given([registered('tok-a'), gone('tok-a')]).when(unregister, T1).then([]);
      given([]).when(unregister, T0).thenThrows(DeviceNotFoundError);
    });

    it('is gone for what an app asks of a device it names', () => {
      const history = [registered('tok-a'), gone('tok-a')];
      given(history).when(cmd('Identify', { userId: 'u1' }), T1).thenThrows(DeviceNotFoundError);
      given(history).when(cmd('MarkSeen', {}), T1).thenThrows(DeviceNotFoundError);
      given(history).when(cmd('UpdateDeviceAttributes', { attributes: { model: 'Pixel 9' } }), T1).thenThrows(DeviceNotFoundError);
      given(history).when(cmd('ChangePushPermission', { pushEnabled: false }), T1).thenThrows(DeviceNotFoundError);
      given(history).when(cmd('Logout', { expectedOwner: 'u1' }), T1).then([]);
    });

    it('late outcomes, invalidations, expiry and releases of its old token change nothing', () => {
      const history = [registered('tok-a'), gone('tok-a')];
      given(history).when(pushSent('m1'), T1).then([]);
      given(history).when(bounce('m1'), T1).then([]);
      given(history).when(cmd('InvalidateToken', { tokenHash: tokenHash('tok-a'), reason: 'UNREGISTERED', messageId: null }), T1).then([]);
      given(history).when(cmd('ExpireToken', { staleAfterDays: 60 }), after(days(90))).then([]);
      given(history).when(cmd('ReleaseToken', { token: 'tok-a', toDeviceId: 'dev-2', claim: 2 }), T1).then([]);
    });

    it('registering the same token again brings it back live, and it can be identified again', () => {
      const back = given([registered('tok-a'), identified('u1'), ev('LoggedOut', T1, { reason: 'unregistered', pii: { userId: 'u1' } }), gone('tok-a')])
        .when(register('tok-a', { claim: 2 }), after(minutes(10)))
        .then([ev('TokenRefreshed', after(minutes(10)), { previousToken: null, token: 'tok-a', provider: 'fcm', platform: 'android', claim: 2 })]);
      expect(back).toMatchObject({ token: 'tok-a', status: 'active', lastStatus: 'unused', tokenClaim: 2, userId: null });
      expect(deviceDecider.decide(cmd('Identify', { userId: 'u1' }), back, after(minutes(11)))).toEqual([identified('u1', after(minutes(11)))]);
    });

    it('a token that was invalidated stays dead after the device was unregistered', () => {
      given([registered('tok-a'), ev('TokenInvalidated', T1, { token: 'tok-a', reason: 'UNREGISTERED', messageId: null }), gone('tok-a')])
        .when(register('tok-a', { claim: 2 }), T1)
        .thenThrows(TokenInvalidatedError);
    });
  });

  it('produces the device view', () => {
    const state = given([registered('tok-a'), identified('u1'), sent('m1')]).state;
    expect(state && toDeviceView(state)).toEqual({
      id: DEV,
      appId: APP,
      userId: 'u1',
      platform: 'android',
      provider: 'fcm',
      token: 'tok-a',
      status: 'active',
      lastStatus: 'sent',
      pushEnabled: null,
      model: null,
      osVersion: null,
      appVersion: null,
      locale: null,
      timezone: null,
      registeredAt: T0.toISOString(),
      lastSeenAt: T0.toISOString(),
      revision: 3,
      consecutiveBounces: 0,
      tokenRegisteredAt: T0.toISOString(),
    });
  });
});
