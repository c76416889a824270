import { AppEvent, AppFcmV1, AppSettingsPatch, DEFAULT_APP_SETTINGS } from '@pushledger/contracts';
import { givenFor } from '../test/given';
import { APP, T0, after, minutes } from '../test/fixtures';
import type { AppCommand } from './app.commands';
import { appDecider } from './app.decider';
import { AppAlreadyExistsError, AppNotFoundError, InvalidCommandError } from './domain-errors';

const given = givenFor(appDecider);
const T1 = after(minutes(1));
const FCM: AppFcmV1 = { projectId: 'demo-proj', serviceAccount: null };
const create = (settings: AppSettingsPatch = {}): AppCommand => ({ type: 'CreateApp', appId: APP, name: 'demo', writeKeyHash: 'wh', serverKeyHash: 'sh', fcm: FCM, settings });
const change = (settings: AppSettingsPatch, appId = APP): AppCommand => ({ type: 'ChangeAppSettings', appId, settings });
const created = (settings = DEFAULT_APP_SETTINGS): AppEvent => ({
  type: 'AppCreated',
  data: { appId: APP, name: 'demo', writeKeyHash: 'wh', serverKeyHash: 'sh', fcm: FCM, settings, createdAt: T0.toISOString() },
});
const changed = (settings: AppSettingsPatch, base = DEFAULT_APP_SETTINGS, now = T1): AppEvent => ({
  type: 'AppSettingsChanged',
  data: { appId: APP, settings: { ...base, ...settings }, changedAt: now.toISOString() },
});

describe('app decider', () => {
  describe('creating an app', () => {
    it('creates it with the default settings for those the request does not name', () => {
      const state = given([]).when(create({ devicePolicy: 'last_active' }), T0).then([created({ ...DEFAULT_APP_SETTINGS, devicePolicy: 'last_active' })]);
      expect(state).toMatchObject({ id: APP, name: 'demo', writeKeyHash: 'wh', serverKeyHash: 'sh', createdAt: T0.toISOString() });
    });

    it('ignores settings named without a value', () => {
      given([]).when(create({ staleAfterDays: undefined }), T0).then([created()]);
    });

    it('refuses to create an app that exists', () => {
      given([created()]).when(create(), T1).thenThrows(AppAlreadyExistsError);
    });
  });

  describe('changing settings', () => {
    it('changes the named settings and keeps the others', () => {
      const history = [created({ ...DEFAULT_APP_SETTINGS, maxDevicesPerUser: 5 })];
      const state = given(history)
        .when(change({ staleAfterDays: 30 }), T1)
        .then([changed({ staleAfterDays: 30, maxDevicesPerUser: 5 })]);
      expect(state?.settings).toEqual({ ...DEFAULT_APP_SETTINGS, staleAfterDays: 30, maxDevicesPerUser: 5 });
    });

    it('decides on every change before it, so two changes of different settings both hold', () => {
      const first = changed({ staleAfterDays: 30 });
      given([created(), first])
        .when(change({ devicePolicy: 'most_recent' }), T1)
        .then([changed({ staleAfterDays: 30, devicePolicy: 'most_recent' })]);
    });

    it('a change that changes nothing is no fact', () => {
      given([created()]).when(change({ staleAfterDays: DEFAULT_APP_SETTINGS.staleAfterDays }), T1).then([]);
      given([created()]).when(change({}), T1).then([]);
      given([created(), changed({ rateLimitPerSecond: 7 })]).when(change({ rateLimitPerSecond: 7, fcmQuotaPerMinute: undefined }), T1).then([]);
    });

    it('rejects a change to an app that does not exist', () => {
      given([]).when(change({ staleAfterDays: 30 }), T1).thenThrows(AppNotFoundError);
    });

    it('rejects a command addressed to another app than the state', () => {
      given([created()]).when(change({ staleAfterDays: 30 }, 'app_other'), T1).thenThrows(InvalidCommandError);
    });
  });
  describe('rotating keys', () => {
    const rotate = (graceSeconds: number, appId = APP): AppCommand => ({ type: 'RotateAppKeys', appId, writeKeyHash: 'wh2', serverKeyHash: 'sh2', graceSeconds });

    it('keeps the replaced keys until the grace period ends', () => {
      const state = given([created()])
        .when(rotate(2), T1)
        .then([{ type: 'AppKeysRotated', data: { appId: APP, writeKeyHash: 'wh2', serverKeyHash: 'sh2', rotatedAt: T1.toISOString(), previous: { writeKeyHash: 'wh', serverKeyHash: 'sh', validUntil: new Date(T1.getTime() + 2000).toISOString() } } }]);
      expect(state).toMatchObject({ writeKeyHash: 'wh2', serverKeyHash: 'sh2', previousKeys: { writeKeyHash: 'wh' } });
    });

    it('with no grace the replaced keys stop at once', () => {
      const state = given([created()]).when(rotate(0), T1).then([{ type: 'AppKeysRotated', data: { appId: APP, writeKeyHash: 'wh2', serverKeyHash: 'sh2', rotatedAt: T1.toISOString() } }]);
      expect(state?.previousKeys).toBeUndefined();
    });

    it('refuses an unknown app and a negative grace', () => {
      given([]).when(rotate(0), T1).thenThrows(AppNotFoundError);
      given([created()]).when(rotate(-1), T1).thenThrows(InvalidCommandError);
    });
  });
});
