import { webPushOptions, webPushTopic } from './webpush-senders';

describe('web push request options', () => {
  const content = (options?: object) => ({ notification: { title: 't', body: 'b' }, data: {}, ...(options ? { options } : {}) }) as never;

  it('maps ttlSeconds to TTL, priority to Urgency and a short collapse key to Topic as it is', () => {
    expect(webPushOptions(content({ ttlSeconds: 600, priority: 'high', collapseKey: 'news' }))).toEqual({ TTL: 600, urgency: 'high', topic: 'news' });
  });

  it('leaves TTL to the library and sends normal urgency when no option is given', () => {
    expect(webPushOptions(content())).toEqual({ urgency: 'normal' });
  });

  it('sends a collapse key that is not a Topic (over 32 characters or outside base64url) as its hash, the same each time', () => {
    const long = 'order-status:'.padEnd(60, 'x');
    const topic = webPushTopic(long);
    expect(topic).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(webPushTopic(long)).toBe(topic);
    expect(webPushTopic('a b')).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(webPushTopic('a b')).not.toBe(topic);
  });
});
