import type { TokenEvent } from '@pushledger/contracts';
import { givenFor } from '../test/given';
import { APP, T0, after, minutes } from '../test/fixtures';
import { TokenInvalidatedError } from './domain-errors';
import { releaseFollowUp, invalidationFollowUps } from './follow-up.policy';
import type { TokenCommand } from './token-ownership.commands';
import { tokenOwnershipDecider } from './token-ownership.decider';

const given = givenFor(tokenOwnershipDecider);
const H = 'hash-a';
const T1 = after(minutes(1));
const claimCmd = (deviceId: string): TokenCommand => ({ type: 'ClaimToken', appId: APP, tokenHash: H, deviceId });
const claimed = (deviceId: string, previousDeviceId: string | null, claim: number, now = T0): TokenEvent => ({
  type: 'TokenClaimed',
  data: { appId: APP, tokenHash: H, at: now.toISOString(), deviceId, previousDeviceId, claim },
});
const retired: TokenEvent = { type: 'TokenRetired', data: { appId: APP, tokenHash: H, at: T0.toISOString(), deviceId: 'd1', reason: 'UNREGISTERED' } };

describe('token ownership decider', () => {
  describe('rule 3: one device per token', () => {
    it('the first device claims the token', () => {
      given([]).when(claimCmd('d1'), T0).then([claimed('d1', null, 1)]);
    });

    it('registering it under another device moves it, naming the device to release it from', () => {
      const state = given([claimed('d1', null, 1)]).when(claimCmd('d2'), T1).then([claimed('d2', 'd1', 2, T1)]);
      expect(state).toMatchObject({ ownerDeviceId: 'd2', previousDeviceId: 'd1', claim: 2 });
      expect(state && releaseFollowUp('tok-a', 'd2', state)).toEqual({
        type: 'ReleaseToken',
        appId: APP,
        deviceId: 'd1',
        token: 'tok-a',
        toDeviceId: 'd2',
        claim: 2,
      });
    });

    it('the owner claiming again changes nothing (and the release it leads to is the same)', () => {
      const history = [claimed('d1', null, 1), claimed('d2', 'd1', 2)];
      const state = given(history).when(claimCmd('d2'), T1).then([]);
      expect(state && releaseFollowUp('tok-a', 'd2', state)).toMatchObject({ deviceId: 'd1', claim: 2 });
      expect(releaseFollowUp('tok-a', 'd2', given([claimed('d2', null, 1)]).state!)).toBeNull();
    });
  });

  describe('an unregistered device gives its token up', () => {
    const unclaim = (deviceId: string): TokenCommand => ({ type: 'UnclaimToken', appId: APP, tokenHash: H, deviceId });
    const unclaimed = (deviceId: string, claim: number, now = T1): TokenEvent => ({ type: 'TokenUnclaimed', data: { appId: APP, tokenHash: H, at: now.toISOString(), deviceId, claim } });

    it('its holder unclaims it: nobody holds it now', () => {
      const state = given([claimed('d1', null, 1), claimed('d2', 'd1', 2)]).when(unclaim('d2'), T1).then([unclaimed('d2', 2)]);
      expect(state).toMatchObject({ ownerDeviceId: null, previousDeviceId: 'd2', claim: 2, retired: false });
    });

    it('only the holder can unclaim it, once; a retired or unknown token changes nothing', () => {
      given([claimed('d1', null, 1), claimed('d2', 'd1', 2)]).when(unclaim('d1'), T1).then([]);
      given([claimed('d1', null, 1), unclaimed('d1', 1)]).when(unclaim('d1'), T1).then([]);
      given([claimed('d1', null, 1), retired]).when(unclaim('d1'), T1).then([]);
      given([]).when(unclaim('d1'), T1).then([]);
    });

    it('the same device claims it again under a new generation, with nothing to release', () => {
      const state = given([claimed('d1', null, 1), unclaimed('d1', 1)]).when(claimCmd('d1'), T1).then([claimed('d1', 'd1', 2, T1)]);
      expect(state).toMatchObject({ ownerDeviceId: 'd1', claim: 2 });
      expect(releaseFollowUp('tok-a', 'd1', state!)).toBeNull();
    });

    it('another device claims it, released from the device that gave it up (a no-op there unless it still holds it)', () => {
      const state = given([claimed('d1', null, 1), unclaimed('d1', 1)]).when(claimCmd('d2'), T1).then([claimed('d2', 'd1', 2, T1)]);
      expect(releaseFollowUp('tok-a', 'd2', state!)).toMatchObject({ type: 'ReleaseToken', deviceId: 'd1', toDeviceId: 'd2', claim: 2 });
    });
  });

  describe('rule 5: a retired token stays dead', () => {
    it('retires once', () => {
      given([claimed('d1', null, 1)])
        .when({ type: 'RetireToken', appId: APP, tokenHash: H, deviceId: 'd1', reason: 'UNREGISTERED' }, T0)
        .then([retired]);
      given([claimed('d1', null, 1), retired]).when({ type: 'RetireToken', appId: APP, tokenHash: H, deviceId: null, reason: 'UNREGISTERED' }, T1).then([]);
    });

    it('no device may claim it again, not even its last owner', () => {
      given([claimed('d1', null, 1), retired]).when(claimCmd('d2'), T1).thenThrows(TokenInvalidatedError);
      given([claimed('d1', null, 1), retired]).when(claimCmd('d1'), T1).thenThrows(TokenInvalidatedError);
    });

    it('invalidates the token on its holder and on the reporting device', () => {
      const state = given([claimed('d1', null, 1), claimed('d2', 'd1', 2), retired]).state!;
      expect(invalidationFollowUps('tok-a', state, { deviceId: 'd1', reason: 'UNREGISTERED', messageId: 'm1' }).map((c) => c.deviceId)).toEqual(['d2', 'd1']);
      expect(invalidationFollowUps('tok-a', state, { deviceId: null, reason: 'UNREGISTERED', messageId: null }).map((c) => c.deviceId)).toEqual(['d2']);
    });
  });
});
