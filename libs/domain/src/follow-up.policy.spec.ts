import { APP, T0, ev } from '../test/fixtures';
import { deviceFollowUps, membershipFollowUp } from './follow-up.policy';

const link = { maxDevicesPerUser: 5, knownLastSeen: { d9: T0.toISOString() } };

describe('follow-ups between streams', () => {
  it('Identified links the device on the user stream at its device revision', () => {
    expect(membershipFollowUp(ev('Identified', T0, { pii: { userId: 'u1' } }), 4, link)).toEqual({
      type: 'LinkDevice',
      appId: APP,
      userId: 'u1',
      deviceId: 'dev-1',
      deviceRevision: 4,
      lastSeenAt: T0.toISOString(),
      knownLastSeen: link.knownLastSeen,
      maxDevicesPerUser: 5,
    });
  });

  it('LoggedOut unlinks it from the previous owner, with the reason', () => {
    expect(membershipFollowUp(ev('LoggedOut', T0, { reason: 'moved', pii: { userId: 'u1' } }), 5, link)).toEqual({
      type: 'UnlinkDevice',
      appId: APP,
      userId: 'u1',
      deviceId: 'dev-1',
      deviceRevision: 5,
      reason: 'moved',
    });
    expect(membershipFollowUp(ev('LoggedOut', T0, { reason: 'unregistered', pii: { userId: 'u1' } }), 6, link)).toMatchObject({ type: 'UnlinkDevice', userId: 'u1', deviceRevision: 6, reason: 'unregistered' });
  });

  it('facts that came from the user stream are not echoed back', () => {
    expect(membershipFollowUp(ev('DeviceDetached', T0, { reason: 'max_devices', pii: { userId: 'u1' } }), 6, link)).toBeNull();
    expect(membershipFollowUp(ev('DeviceAnonymised', T0, {}), 6, link)).toBeNull();
    expect(membershipFollowUp(ev('DeviceSeen', T0, {}), 6, link)).toBeNull();
    expect(membershipFollowUp(ev('DeviceUnregistered', T0, { token: 'tok-a' }), 7, link)).toBeNull();
  });

  it('max-devices evictions detach the device; erasure anonymises every device', () => {
    const at = T0.toISOString();
    expect(
      deviceFollowUps([
        { type: 'UserDeviceLinked', data: { appId: APP, at, deviceId: 'd3', deviceRevision: 2, lastSeenAt: at, pii: { userId: 'u1' } } },
        { type: 'UserDeviceUnlinked', data: { appId: APP, at, deviceId: 'd1', deviceRevision: null, reason: 'max_devices', pii: { userId: 'u1' } } },
        { type: 'UserDeviceUnlinked', data: { appId: APP, at, deviceId: 'd2', deviceRevision: 7, reason: 'logout', pii: { userId: 'u1' } } },
        { type: 'UserErased', data: { appId: APP, at, deviceIds: ['d4', 'd5'], pii: { userId: 'u1' } } },
      ]),
    ).toEqual([
      { type: 'DetachDevice', appId: APP, deviceId: 'd1', expectedOwner: 'u1', reason: 'max_devices' },
      { type: 'AnonymiseDevice', appId: APP, deviceId: 'd4', userId: 'u1' },
      { type: 'AnonymiseDevice', appId: APP, deviceId: 'd5', userId: 'u1' },
    ]);
  });
});
