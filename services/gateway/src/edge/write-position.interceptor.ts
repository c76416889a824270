import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { Response } from 'express';
import { Observable, tap } from 'rxjs';
import { WritePositions } from '../application/write-positions';

/** On a write's response: the store position of the facts it stored (or found stored, on a retry). */
export const POSITION_HEADER = 'X-Pushledger-Position';

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
