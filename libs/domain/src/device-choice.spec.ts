import { after, days, hours } from '../test/fixtures';
import { chooseDevices, planSend } from './device-choice';
import type { DeviceView } from './device.view';
import type { EligibilityUser } from './eligibility';

type D = Pick<DeviceView, 'id' | 'userId' | 'token' | 'status' | 'lastStatus' | 'pushEnabled' | 'lastSeenAt' | 'tokenRegisteredAt'>;
const iso = (ms: number) => after(ms).toISOString();
const d = (id: string, lastSeen: number, tokenRegistered: number, over: Partial<D> = {}): D => ({
  id,
  userId: 'u1',
  token: `tok-${id}`,
  status: 'active',
  lastStatus: 'unused',
  pushEnabled: true,
  lastSeenAt: iso(lastSeen),
  tokenRegisteredAt: iso(tokenRegistered),
  ...over,
});
const ids = (ds: { id: string }[]) => ds.map((x) => x.id);

describe('rule 9: device choice among eligible devices', () => {
  const phone = d('d-phone', hours(5), hours(1));
  const tablet = d('d-tablet', hours(2), hours(3));
  const web = d('d-web', hours(1), hours(2));
  const devices = [web, tablet, phone];

  it('all: every eligible device, in device-id order', () => {
    expect(ids(chooseDevices(devices, 'all'))).toEqual(['d-phone', 'd-tablet', 'd-web']);
  });
  it('last_active: the latest lastSeenAt', () => {
    expect(ids(chooseDevices(devices, 'last_active'))).toEqual(['d-phone']);
  });
  it('most_recent: the most recently registered token', () => {
    expect(ids(chooseDevices(devices, 'most_recent'))).toEqual(['d-tablet']);
  });
  it('an explicit device or token', () => {
    expect(ids(chooseDevices(devices, { deviceId: 'd-web' }))).toEqual(['d-web']);
    expect(ids(chooseDevices(devices, { token: 'tok-d-tablet' }))).toEqual(['d-tablet']);
    expect(chooseDevices(devices, { deviceId: 'nope' })).toEqual([]);
  });
  it('ties go to the smallest device id, whatever the input order', () => {
    const a = d('a', hours(1), hours(1));
    const b = d('b', hours(1), hours(1));
    expect(ids(chooseDevices([b, a], 'last_active'))).toEqual(['a']);
    expect(ids(chooseDevices([b, a], 'most_recent'))).toEqual(['a']);
  });
  it('no devices, no choice', () => {
    expect(chooseDevices([], 'last_active')).toEqual([]);
  });
});

describe('planSend: eligibility, then the policy', () => {
  const users = new Map<string, EligibilityUser>([['u1', { userId: 'u1', unsubscribed: false, erased: false }]]);
  const ctx = { now: after(days(1)), staleAfterDays: 60 };
  const devices = [
    d('d1', hours(1), hours(1)),
    d('d2', hours(3), hours(1)),
    d('d3', hours(9), hours(1), { lastStatus: 'suppressed' }),
    d('d4', hours(2), hours(1), { status: 'invalid' }),
  ];
  const message = { to: { userId: 'u1' }, transactional: false, devicePolicy: null };

  it('skips ineligible devices with their reason and applies the app policy to the rest', () => {
    const plan = planSend(devices, users, message, 'all', ctx);
    expect({ targeted: plan.targeted, skipped: plan.skipped }).toEqual({ targeted: [devices[0], devices[1]], skipped: { suppressed: 1, invalid: 1 } });
    expect(plan.skippedDevices.map((s) => [s.device.id, s.reason]).sort()).toEqual([['d3', 'suppressed'], ['d4', 'invalid']].sort());
  });
  it('last_active picks among the eligible ones only', () => {
    const plan = planSend(devices, users, message, 'last_active', ctx);
    expect(ids(plan.targeted)).toEqual(['d2']);
    expect(plan.skipped).toEqual({ suppressed: 1, invalid: 1, not_chosen: 1 });
  });
  it('a device the message is too large for is skipped as payload_too_large and the policy picks among the others', () => {
    const tooLarge = (x: D) => x.id === 'd2';
    const plan = planSend(devices, users, message, 'last_active', { ...ctx, payloadTooLarge: tooLarge });
    expect(ids(plan.targeted)).toEqual(['d1']);
    expect(plan.skipped).toEqual({ suppressed: 1, invalid: 1, payload_too_large: 1 });
  });
  it('the message policy overrides the app policy', () => {
    expect(ids(planSend(devices, users, { ...message, devicePolicy: 'last_active' }, 'all', ctx).targeted)).toEqual(['d2']);
  });
  it('a send to one device ignores the policy', () => {
    expect(ids(planSend([devices[0]], users, { ...message, to: { deviceId: 'd1' } }, 'last_active', ctx).targeted)).toEqual(['d1']);
  });
  it('unsubscribed owners are skipped unless transactional', () => {
    const unsub = new Map([['u1', { userId: 'u1', unsubscribed: true, erased: false }]]);
    const plan = planSend(devices.slice(0, 2), unsub, message, 'all', ctx);
    expect({ targeted: plan.targeted, skipped: plan.skipped }).toEqual({ targeted: [], skipped: { unsubscribed: 2 } });
    expect(plan.skippedDevices.map((s) => s.reason)).toEqual(['unsubscribed', 'unsubscribed']);
    expect(planSend(devices.slice(0, 2), unsub, { ...message, transactional: true }, 'all', ctx).targeted).toHaveLength(2);
  });
  it('an unregistered device is gone: neither targeted nor skipped, whoever the send names', () => {
    const gone = d('d5', hours(4), hours(1), { userId: null, token: null, status: 'unregistered' });
    const plan = planSend([...devices, gone], users, message, 'all', ctx);
    expect({ targeted: ids(plan.targeted), skipped: plan.skipped }).toEqual({ targeted: ['d1', 'd2'], skipped: { suppressed: 1, invalid: 1 } });
    for (const to of [{ deviceId: 'd5' }, { userId: 'u1' }]) {
      expect(planSend([gone], users, { ...message, to }, 'all', ctx)).toEqual({ targeted: [], skipped: {}, skippedDevices: [] });
    }
  });
});
