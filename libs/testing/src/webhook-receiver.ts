import { createHmac, timingSafeEqual } from 'crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'http';
import type { AddressInfo } from 'net';

export interface ReceivedWebhook {
  path: string;
  body: { id: string; type: string; appId: string; occurredAt: string; data: Record<string, unknown> };
  raw: string;
  signature: string;
  at: number;
}

/** What the receiver answers at `path`: a status, or never (the connection is held open). */
export type ReceiverBehaviour = (attempt: number, body: ReceivedWebhook['body']) => number | 'hang';

/** A local HTTP receiver for webhook tests: per path, what it answers; it keeps every request (answered or not). */
export class WebhookReceiver {
  readonly requests: ReceivedWebhook[] = [];
  private readonly behaviours = new Map<string, ReceiverBehaviour>();
  private readonly attempts = new Map<string, number>();
  private readonly hanging = new Set<ServerResponse>();

  private constructor(private readonly server: Server) {}

  static async start(): Promise<WebhookReceiver> {
    const server = createServer();
    const receiver = new WebhookReceiver(server);
    server.on('request', (req, res) => void receiver.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  url(path: string, behaviour: ReceiverBehaviour = () => 200): string {
    this.behaviours.set(path, behaviour);
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  at(path: string): ReceivedWebhook[] {
    return this.requests.filter((r) => r.path === path);
  }

  /** Checked as a receiver would, with the secret the API showed once. */
  static verify(r: ReceivedWebhook, secret: string): boolean {
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(r.signature);
    if (!m) return false;
    const expected = createHmac('sha256', secret).update(`${m[1]}.${r.raw}`).digest();
    return timingSafeEqual(expected, Buffer.from(m[2], 'hex'));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const path = req.url ?? '/';
    const body = JSON.parse(raw) as ReceivedWebhook['body'];
    this.requests.push({ path, body, raw, signature: String(req.headers['pushledger-signature'] ?? ''), at: Date.now() });
    const key = `${path} ${body.id}`;
    const attempt = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, attempt);
    const answer = (this.behaviours.get(path) ?? (() => 404))(attempt, body);
    if (answer === 'hang') {
      this.hanging.add(res);
      return;
    }
    res.writeHead(answer, { 'content-type': 'application/json' }).end('{}');
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
