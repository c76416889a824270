import { SetMetadata, createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { AppDirectoryEntryV1 } from '@pushledger/contracts';

/** `admin-or-server`: the admin token, or a server key (of the app the route names: the handler checks). */
export type AccessLevel = 'admin' | 'write' | 'server' | 'admin-or-server';
export const ACCESS_KEY = 'pushledger:access';
/** Which key a route needs: a write key also passes `write` routes, a server key passes both. */
export const Access = (level: AccessLevel) => SetMetadata(ACCESS_KEY, level);

export interface Caller {
  app: AppDirectoryEntryV1;
  keyKind: 'write' | 'server';
  keyHash: string;
}

export const CurrentCaller = createParamDecorator((_: unknown, ctx: ExecutionContext): Caller => ctx.switchToHttp().getRequest().caller);
