import { webhookSignature } from '@pushledger/contracts';

export type SendResult = { ok: true } | { ok: false; error: string };

/** One signed POST; anything but a 2xx (a redirect included) or an answer within the timeout is a failure. */
export async function postWebhook(url: string, secret: string, rawBody: string, timeoutMs: number, now = new Date()): Promise<SendResult> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
      headers: { 'content-type': 'application/json', 'user-agent': 'Pushledger-Webhooks/1', 'pushledger-signature': webhookSignature(secret, Math.floor(now.getTime() / 1000), rawBody) },
      body: rawBody,
    });
    // The body is not needed; reading it frees the connection.
    await res.arrayBuffer().catch(() => undefined);
    return res.status >= 200 && res.status < 300 ? { ok: true } : { ok: false, error: `http ${res.status}` };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return { ok: false, error: e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.name) };
  }
}
