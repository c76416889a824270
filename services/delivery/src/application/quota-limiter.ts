/** Keeps each app under its FCM quota (messages per minute), with a one-second burst. */
export class QuotaLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  /** Milliseconds to wait before `n` messages may go. Takes the tokens (possibly into debt). */
  reserve(appId: string, n: number, perMinute: number, now = Date.now()): number {
    const rate = perMinute / 60000;
    const burst = Math.max(1, perMinute / 60);
    const b = this.buckets.get(appId) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + (now - b.at) * rate);
    b.at = now;
    b.tokens -= n;
    this.buckets.set(appId, b);
    return b.tokens >= 0 ? 0 : Math.ceil(-b.tokens / rate);
  }
}
