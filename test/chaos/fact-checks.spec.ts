import { appStream, campaignSendStream, deviceStream, tokenStream, userStream } from '@pushledger/contracts';
import { missingStreamKinds, repeatedFacts, streamKind, userModelProblems, type Fact, type UserModelDoc } from './fact-checks';

const APP = 'app_chaos';
let nextId = 0;
const fact = (stream: string, type: string, causationId: string | undefined, data: Record<string, unknown> = {}): Fact => ({
  stream,
  type,
  eventId: `e${++nextId}`,
  data,
  metadata: causationId === undefined ? {} : { causationId },
});
const user = (userId: string | null, devices: string[], linked: string[] = devices, extra: Partial<UserModelDoc> = {}): UserModelDoc => ({
  _id: `${APP}:${userId}`,
  appId: APP,
  userId,
  devices: devices.map((id) => ({ id })),
  linkedDevices: linked.map((id) => ({ id })),
  deviceCount: devices.length,
  ...extra,
});

describe('repeatedFacts', () => {
  const device = deviceStream(APP, 'd1');
  const alice = userStream(APP, 'alice');

  it('reports a fact one step stored twice, in a device stream', () => {
    const { problems } = repeatedFacts([fact(device, 'TokenRegistered', 'cmd1:register', { deviceId: 'd1' }), fact(device, 'TokenRegistered', 'cmd1:register', { deviceId: 'd1' })]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^duplicate: TokenRegistered of device d1 stored 2 times in device-app_chaos-d1 by step cmd1:register/);
  });

  it.each([
    ['a user', userStream(APP, 'alice'), 'UserDeviceLinked', { deviceId: 'd1' }],
    ['a token', tokenStream(APP, 'h1'), 'TokenClaimed', { deviceId: 'd1' }],
    ['an app', appStream(APP), 'AppCreated', {}],
    ['a campaign-send', campaignSendStream(APP, 'm1'), 'CampaignWaveClaimed', { wave: null, run: 1 }],
  ])('reports a fact one step stored twice, in %s stream', (_kind, stream, type, data) => {
    const { problems } = repeatedFacts([fact(stream, type, 'cmd1:step', data), fact(stream, 'Other', 'cmd1:step', data), fact(stream, type, 'cmd1:step', data)]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(type);
    expect(problems[0]).toContain(stream);
  });

  it('reports three copies once, naming every event', () => {
    const copies = [1, 2, 3].map(() => fact(alice, 'UserDeviceUnlinked', 'cmd1:identify', { deviceId: 'd2' }));
    const { problems } = repeatedFacts(copies);
    expect(problems).toEqual([expect.stringContaining(`stored 3 times`)]);
    for (const c of copies) expect(problems[0]).toContain(c.eventId);
  });

  it('passes one step unlinking several devices from one user', () => {
    const { problems } = repeatedFacts([
      fact(alice, 'UserDeviceLinked', 'cmd1:identify', { deviceId: 'd1' }),
      fact(alice, 'UserDeviceUnlinked', 'cmd1:identify', { deviceId: 'd2' }),
      fact(alice, 'UserDeviceUnlinked', 'cmd1:identify', { deviceId: 'd3' }),
    ]);
    expect(problems).toEqual([]);
  });

  it('passes the same type from different steps, or in different streams', () => {
    const { problems } = repeatedFacts([
      fact(device, 'DeviceSeen', 'cmd1:device', { deviceId: 'd1' }),
      fact(device, 'DeviceSeen', 'cmd2:device', { deviceId: 'd1' }),
      fact(device, 'LoggedOut', 'cmd3:logout', { deviceId: 'd1' }),
      fact(deviceStream(APP, 'd2'), 'LoggedOut', 'cmd3:logout', { deviceId: 'd2' }),
      fact(alice, 'UserDeviceUnlinked', 'cmd3:logout', { deviceId: 'd1' }),
      fact(userStream(APP, 'bob'), 'UserDeviceUnlinked', 'cmd3:logout', { deviceId: 'd1' }),
    ]);
    expect(problems).toEqual([]);
  });

  it('skips facts without a causation id', () => {
    expect(repeatedFacts([fact(device, 'DeviceSeen', undefined), fact(device, 'DeviceSeen', undefined)]).problems).toEqual([]);
  });

  it('counts streams by kind', () => {
    const { streamsByKind } = repeatedFacts([
      fact(device, 'TokenRegistered', 'a:register'),
      fact(device, 'Identified', 'b:identify'),
      fact(deviceStream(APP, 'd2'), 'TokenRegistered', 'c:register'),
      fact(`user-${APP}-~0123456789abcdef0123456789abcdef`, 'UserDeviceLinked', 'b:identify'),
      fact(tokenStream(APP, 'h1'), 'TokenClaimed', 'a:register'),
      fact(appStream(APP), 'AppCreated', 'x:app'),
      fact(campaignSendStream(APP, 'm1'), 'CampaignSendScheduled', 'm1:ScheduleCampaignSend'),
    ]);
    expect(streamsByKind).toEqual({ device: 2, user: 1, token: 1, app: 1, campaignsend: 1 });
  });

  it('names stream kinds by the text before the first dash', () => {
    expect(streamKind(appStream(APP))).toBe('app');
    expect(streamKind(campaignSendStream(APP, 'm-1'))).toBe('campaignsend');
    expect(streamKind('odd')).toBe('odd');
  });
});

describe('missingStreamKinds', () => {
  const all = { app: 1, device: 4, token: 4, user: 2 };

  it('reports a kind the acknowledged operations imply but the store lacks', () => {
    expect(missingStreamKinds({ register: 4, identify: 2 }, { app: 1, device: 4, token: 4 })).toEqual(['no user stream in the store, yet acknowledged: 2 identify']);
    expect(missingStreamKinds({ register: 4, identify: 2, logout: 1 }, {})).toEqual([
      'no app stream in the store, yet acknowledged: 4 register, 2 identify, 1 logout',
      'no device stream in the store, yet acknowledged: 4 register, 2 identify, 1 logout',
      'no token stream in the store, yet acknowledged: 4 register',
      'no user stream in the store, yet acknowledged: 2 identify',
    ]);
  });

  it('passes when every implied kind is there, or nothing was acknowledged', () => {
    expect(missingStreamKinds({ register: 4, identify: 2, logout: 1, push: 1 }, all)).toEqual([]);
    expect(missingStreamKinds({ register: 4 }, { app: 1, device: 4, token: 4 })).toEqual([]);
    expect(missingStreamKinds({ identify: 0 }, {})).toEqual([]);
    expect(missingStreamKinds({}, {})).toEqual([]);
  });
});

describe('userModelProblems', () => {
  it('reports a device listed twice in devices or in linkedDevices', () => {
    expect(userModelProblems([user('alice', ['d1', 'd1'], ['d1'], { deviceCount: 2 })])).toEqual(['read model: user alice lists device d1 2 times in devices']);
    expect(userModelProblems([user('alice', ['d1'], ['d1', 'd1'])])).toEqual(['read model: user alice lists device d1 2 times in linkedDevices']);
  });

  it('reports a device two users of one app own', () => {
    expect(userModelProblems([user('alice', ['d1', 'd2']), user('bob', ['d3']), user('carol', ['d2'])])).toEqual(['read model: device d2 listed as owned by both alice and carol']);
  });

  it('reports a deviceCount that is not the length of devices', () => {
    expect(userModelProblems([user('alice', ['d1', 'd2'], undefined, { deviceCount: 1 })])).toEqual(['read model: user alice has deviceCount 1 but lists 2 devices']);
  });

  it('passes distinct devices, the same device id in two apps, and documents without linkedDevices or deviceCount', () => {
    expect(
      userModelProblems([
        user('alice', ['d1', 'd2']),
        user('bob', ['d3'], []),
        user('dave', [], ['d4']),
        { ...user('alice', ['d1']), appId: 'app_other' },
        { appId: APP, userId: null, devices: [{ id: 'd5' }] },
      ]),
    ).toEqual([]);
  });
});
