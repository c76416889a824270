import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import type { FcmSimRequestRecord, FcmSimulatorConfig } from './fcm-simulator';
import type { FcmSimResponse } from './fcm-simulator-replies';

/** Drives a simulator running in another process through its /__sim/ routes. */
export class FcmSimulatorClient {
  private readonly ca: Buffer;

  constructor(
    private readonly url: string,
    caFile: string,
  ) {
    this.ca = readFileSync(caFile);
  }

  requests(token?: string): Promise<FcmSimRequestRecord[]> {
    const query = token === undefined ? '' : `?token=${encodeURIComponent(token)}`;
    return this.call<FcmSimRequestRecord[]>('GET', `/__sim/requests${query}`);
  }

  async script(token: string, responses: FcmSimResponse[]): Promise<void> {
    await this.call('POST', '/__sim/script', { token, responses });
  }

  async setDefault(response: FcmSimResponse): Promise<void> {
    await this.configure({ default: response });
  }

  async configure(config: FcmSimulatorConfig): Promise<void> {
    await this.call('POST', '/__sim/config', config);
  }

  async reset(): Promise<void> {
    await this.call('POST', '/__sim/reset', {});
  }

  private call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise<T>((resolve, reject) => {
      const req = request(
        new URL(path, this.url),
        {
          method,
          ca: this.ca,
          agent: false,
          headers: payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if ((res.statusCode ?? 500) >= 300) reject(new Error(`FCM simulator ${method} ${path}: ${res.statusCode} ${text}`));
            else resolve(JSON.parse(text) as T);
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }
}
