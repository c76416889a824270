import { AsyncLocalStorage } from 'async_hooks';
import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { Response } from 'express';
import { Observable, tap } from 'rxjs';

/** On a write's response: the store position of the facts it stored (or found stored, on a retry). */
export const POSITION_HEADER = 'X-Pushledger-Position';

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

/** Runs each request in its own position scope, and puts the position its writes reached on the response. */
@Injectable()
export class WritePositionInterceptor implements NestInterceptor {
  constructor(private readonly positions: WritePositions) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const res = context.switchToHttp().getResponse<Response>();
    const scope: { position: bigint | null } = { position: null };
    // `handle()` binds the handler to the async context it is called in, so the handler runs in the scope.
    return this.positions
      .scoped(scope, () => next.handle())
      .pipe(
        tap(() => {
          if (scope.position !== null && !res.headersSent) res.setHeader(POSITION_HEADER, scope.position.toString());
        }),
      );
  }
}
