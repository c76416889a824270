import { T0, after, days } from '../test/fixtures';
import { eligibility, type EligibilityDevice, type EligibilityUser, type Message } from './eligibility';

const device = (over: Partial<EligibilityDevice> = {}): EligibilityDevice => ({
  id: 'd1',
  userId: 'u1',
  token: 'tok-a',
  status: 'active',
  lastStatus: 'sent',
  pushEnabled: true,
  lastSeenAt: T0.toISOString(),
  ...over,
});
const user = (over: Partial<EligibilityUser> = {}): EligibilityUser => ({ userId: 'u1', unsubscribed: false, erased: false, ...over });
const toUser = (over: Partial<Message> = {}): Message => ({ to: { userId: 'u1' }, transactional: false, devicePolicy: null, ...over });
const ctx = { now: after(days(1)), staleAfterDays: 60 };
const ok = { eligible: true };
const no = (reason: string) => ({ eligible: false, reason });

describe('eligibility of one device for one message', () => {
  it('an identified, active, consenting device is eligible', () => {
    expect(eligibility(device(), user(), toUser(), ctx)).toEqual(ok);
  });

  describe('rule 1: anonymous devices only by device or token', () => {
    const anon = device({ userId: null });
    it('is not reached by a user-targeted send', () => {
      expect(eligibility(anon, null, toUser(), ctx)).toEqual(no('anonymous'));
    });
    it('is reached by a send to that device or that token', () => {
      expect(eligibility(anon, null, toUser({ to: { deviceId: 'd1' } }), ctx)).toEqual(ok);
      expect(eligibility(anon, null, toUser({ to: { token: 'tok-a' } }), ctx)).toEqual(ok);
    });
    it('a send naming another device, token or user does not reach it', () => {
      expect(eligibility(anon, null, toUser({ to: { deviceId: 'd2' } }), ctx)).toEqual(no('not_targeted'));
      expect(eligibility(anon, null, toUser({ to: { token: 'tok-b' } }), ctx)).toEqual(no('not_targeted'));
      expect(eligibility(device({ userId: 'u2' }), user({ userId: 'u2' }), toUser(), ctx)).toEqual(no('not_targeted'));
    });
  });

  it('rule 5: an invalid token or no token is never eligible, not even transactional', () => {
    expect(eligibility(device({ status: 'invalid' }), user(), toUser({ transactional: true }), ctx)).toEqual(no('invalid'));
    expect(eligibility(device({ token: null, status: 'invalid' }), user(), toUser({ to: { deviceId: 'd1' } }), ctx)).toEqual(no('no_token'));
  });

  it('rule 6: a suppressed device is not sent to; bounced still is', () => {
    expect(eligibility(device({ lastStatus: 'suppressed' }), user(), toUser(), ctx)).toEqual(no('suppressed'));
    expect(eligibility(device({ lastStatus: 'bounced' }), user(), toUser(), ctx)).toEqual(ok);
  });

  describe('rule 7: stale', () => {
    it('excludes a device marked stale', () => {
      expect(eligibility(device({ status: 'stale' }), user(), toUser(), ctx)).toEqual(no('stale'));
    });
    it('computes staleness from lastSeenAt before the expiry job ran', () => {
      expect(eligibility(device(), user(), toUser(), { now: after(days(60)), staleAfterDays: 60 })).toEqual(no('stale'));
      expect(eligibility(device(), user(), toUser(), { now: after(days(60) - 1), staleAfterDays: 60 })).toEqual(ok);
      expect(eligibility(device(), user(), toUser(), { now: after(days(10)), staleAfterDays: 7 })).toEqual(no('stale'));
    });
  });

  describe('rule 8: consent, permission and validity are separate', () => {
    it('a topic the user turned off blocks pushes on that topic, transactional ones too; other topics and untopiced pushes pass', () => {
      const off = user({ topics: { news: false, promos: true } });
      expect(eligibility(device(), off, toUser({ topic: 'news' }), ctx)).toEqual(no('topic_unsubscribed'));
      expect(eligibility(device(), off, toUser({ topic: 'news', transactional: true }), ctx)).toEqual(no('topic_unsubscribed'));
      expect(eligibility(device(), off, toUser({ topic: 'promos' }), ctx)).toEqual(ok);
      expect(eligibility(device(), off, toUser({ topic: 'never-set' }), ctx)).toEqual(ok);
      expect(eligibility(device(), off, toUser(), ctx)).toEqual(ok);
    });

    it('unsubscribed blocks non-transactional pushes only', () => {
      expect(eligibility(device(), user({ unsubscribed: true }), toUser(), ctx)).toEqual(no('unsubscribed'));
      expect(eligibility(device(), user({ unsubscribed: true }), toUser({ transactional: true }), ctx)).toEqual(ok);
      expect(eligibility(device(), user({ unsubscribed: true }), toUser({ to: { deviceId: 'd1' } }), ctx)).toEqual(no('unsubscribed'));
    });
    it('OS permission off excludes; never reported does not', () => {
      expect(eligibility(device({ pushEnabled: false }), user(), toUser({ transactional: true }), ctx)).toEqual(no('push_disabled'));
      expect(eligibility(device({ pushEnabled: null }), user(), toUser(), ctx)).toEqual(ok);
    });
  });

  it('a device whose provider the app cannot send through is skipped with no_credentials, after every other reason', () => {
    const apns = device({ provider: 'apns' });
    expect(eligibility(apns, user(), toUser(), { ...ctx, providers: ['fcm'] })).toEqual(no('no_credentials'));
    expect(eligibility(apns, user(), toUser(), { ...ctx, providers: ['fcm', 'apns'] })).toEqual(ok);
    expect(eligibility(device({ provider: 'fcm' }), user(), toUser(), { ...ctx, providers: ['apns'] })).toEqual(no('no_credentials'));
    expect(eligibility(device({ provider: 'apns', pushEnabled: false }), user(), toUser(), { ...ctx, providers: ['fcm'] })).toEqual(no('push_disabled'));
  });

  it('rule 11: an erased owner is never sent to', () => {
    expect(eligibility(device(), user({ erased: true }), toUser({ transactional: true }), ctx)).toEqual(no('erased'));
  });

  it('reports the first reason in a fixed order', () => {
    const everythingWrong = device({ userId: null, status: 'stale', lastStatus: 'suppressed', pushEnabled: false });
    expect(eligibility(everythingWrong, null, toUser(), ctx)).toEqual(no('anonymous'));
    expect(eligibility(everythingWrong, null, toUser({ to: { deviceId: 'd1' } }), ctx)).toEqual(no('suppressed'));
    expect(eligibility(device({ lastStatus: 'suppressed', pushEnabled: false }), user({ unsubscribed: true }), toUser(), ctx)).toEqual(no('unsubscribed'));
  });
});
