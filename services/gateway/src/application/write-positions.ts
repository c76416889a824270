import { AsyncLocalStorage } from 'async_hooks';
import { Injectable } from '@nestjs/common';

/**
 * Store positions written through this gateway: per app, the last one (reads of the app wait for it, so
 * a client that writes and then reads through the same gateway sees its write), and per request, the
 * highest one (sent back as `X-Pushledger-Position`).
 */
@Injectable()
export class WritePositions {
  private readonly lastByApp = new Map<string, bigint>();
  private readonly request = new AsyncLocalStorage<{ position: bigint | null }>();

  wrote(appId: string, position: bigint): void {
    if (position <= 0n) return;
    if (position > (this.lastByApp.get(appId) ?? 0n)) this.lastByApp.set(appId, position);
    const scope = this.request.getStore();
    if (scope && (scope.position === null || position > scope.position)) scope.position = position;
  }

  lastWritten(appId: string): bigint {
    return this.lastByApp.get(appId) ?? 0n;
  }

  /** The highest position written so far by the current request, or null. */
  ofRequest(): bigint | null {
    return this.request.getStore()?.position ?? null;
  }

  scoped<T>(scope: { position: bigint | null }, work: () => T): T {
    return this.request.run(scope, work);
  }
}
