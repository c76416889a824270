import { planSegmentMessage, SegmentValidationError } from './segment-messages';

describe('Segment identify: when its traits were observed', () => {
  const now = new Date('2026-12-06T12:00:00.000Z');
  const identify = (extra: Record<string, unknown>) =>
    planSegmentMessage({ type: 'identify', userId: 'u-1', messageId: 'm-1', traits: { plan: 'pro' }, ...extra }, 'app-1', 'fallback', now);
  const observedAt = (extra: Record<string, unknown>) => {
    const plan = identify(extra);
    if (plan.kind !== 'identify' || !plan.traits) throw new Error('no traits command');
    return plan.traits.observedAt;
  };

  it('its timestamp; the time the gateway received it when the timestamp is later or absent; else when it is applied', () => {
    expect(observedAt({ timestamp: '2026-12-06T11:59:00.000Z', receivedAt: '2026-12-06T11:59:30.000Z' })).toBe('2026-12-06T11:59:00.000Z');
    expect(observedAt({ timestamp: '2026-12-06T13:00:00.000Z', receivedAt: '2026-12-06T11:59:30.000Z' })).toBe('2026-12-06T11:59:30.000Z');
    expect(observedAt({ receivedAt: '2026-12-06T11:59:30.000Z' })).toBe('2026-12-06T11:59:30.000Z');
    expect(observedAt({ timestamp: '2026-12-07T00:00:00.000Z' })).toBe(now.toISOString());
    expect(observedAt({})).toBe(now.toISOString());
  });

  it('a timestamp that is not a date is refused, naming the field', () => {
    expect(() => identify({ timestamp: 'yesterday' })).toThrow(new SegmentValidationError('timestamp', 'must be an ISO-8601 date'));
    expect(() => identify({ timestamp: 12 })).toThrow(SegmentValidationError);
  });
});
