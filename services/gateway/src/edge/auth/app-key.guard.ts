import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import type { PushledgerConfig } from '@pushledger/config';
import { hashKey } from '@pushledger/contracts';
import { CONFIG, sameSecret } from '@pushledger/platform';
import { AppDirectory } from '../../infrastructure/app-directory';
import { ApiError } from '../http/api-error';
import { ACCESS_KEY, AccessLevel } from './access';
import { RateLimiter } from './rate-limiter';

/** With the admin token, names the app a server-key route acts on. */
export const ACTING_APP_HEADER = 'x-pushledger-app';

function safeEqual(a: string, b: string): boolean {
  return sameSecret(a, b);
}

/** The credentials a request carries: Bearer, Basic (`key:` or Customer.io's `siteId:apiKey`), or `writeKey` in the body. */
export function credentialsOf(req: Request): { key?: string; siteId?: string } {
  const auth = req.headers.authorization;
  if (auth) {
    const [scheme, value = ''] = auth.split(' ', 2);
    if (/^bearer$/i.test(scheme)) return { key: value.trim() };
    if (/^basic$/i.test(scheme)) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      const user = i < 0 ? decoded : decoded.slice(0, i);
      const pass = i < 0 ? '' : decoded.slice(i + 1);
      return pass ? { key: pass, siteId: user } : { key: user };
    }
  }
  const body = req.body as { writeKey?: unknown } | undefined;
  if (body && typeof body.writeKey === 'string') return { key: body.writeKey };
  return {};
}

@Injectable()
export class AppKeyGuard implements CanActivate {
  private readonly limiter = new RateLimiter();

  constructor(
    private readonly reflector: Reflector,
    private readonly apps: AppDirectory,
    @Inject(CONFIG) private readonly config: PushledgerConfig,
  ) {}

  canActivate(ctx: ExecutionContext): boolean {
    const level = this.reflector.getAllAndOverride<AccessLevel | undefined>(ACCESS_KEY, [ctx.getHandler(), ctx.getClass()]);
    if (!level) return true;
    const req = ctx.switchToHttp().getRequest<Request & { caller?: unknown }>();
    const { key, siteId } = credentialsOf(req);
    if (!key) throw ApiError.unauthorized();
    if (level === 'admin') {
      if (!this.config.adminToken || !safeEqual(key, this.config.adminToken)) throw ApiError.unauthorized('a valid admin token is required');
      return true;
    }
    if (this.config.adminToken && (level === 'server' || level === 'admin-or-server') && safeEqual(key, this.config.adminToken)) {
      const named = req.headers[ACTING_APP_HEADER];
      if (typeof named !== 'string') {
        if (level === 'admin-or-server') return true;
        throw ApiError.validation(ACTING_APP_HEADER, 'the admin token reaches an app\'s routes only naming the app in this header');
      }
      // The admin token may act as any app's server key (the console signs in with it once, for every app).
      const app = this.apps.get(named);
      if (!app) throw ApiError.notFound('app');
      req.caller = { app, keyKind: 'server', keyHash: hashKey(key) };
      return true;
    }
    const found = this.apps.findByKey(key);
    // Before the app list has come, a key not known yet may be valid: not a 401.
    if (!found && !this.apps.loaded) throw ApiError.unavailable('the gateway is still loading its apps; retry');
    if (!found || (siteId && siteId !== found.app.id)) throw ApiError.unauthorized('unknown API key');
    if ((level === 'server' || level === 'admin-or-server') && found.kind !== 'server') throw ApiError.forbidden('this route needs the app\'s server key; a write key may only register devices, identify, log out and send events');
    const keyHash = found.kind === 'server' ? found.app.serverKeyHash : found.app.writeKeyHash;
    const wait = this.limiter.take(keyHash, found.app.settings.rateLimitPerSecond);
    if (wait > 0) throw new ApiError(429, 'rate_limited', `too many requests for this key; retry in ${wait} s`, undefined, { 'Retry-After': String(wait) });
    req.caller = { app: found.app, keyKind: found.kind, keyHash: hashKey(key) };
    return true;
  }
}
