import type { ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import type { PushledgerConfig } from '@pushledger/config';
import type { AppDirectory } from '../../infrastructure/app-directory';
import { ApiError } from '../http/api-error';
import type { AccessLevel } from './access';
import { AppKeyGuard } from './app-key.guard';

const ADMIN = 'a'.repeat(40);
const APP = { id: 'app_one', serverKeyHash: 'h', writeKeyHash: 'w', settings: { rateLimitPerSecond: 100 } };

function guardFor(level: AccessLevel) {
  const reflector = { getAllAndOverride: () => level } as unknown as Reflector;
  const directory = { loaded: true, get: (id: string) => (id === APP.id ? APP : undefined), findByKey: () => undefined } as unknown as AppDirectory;
  return new AppKeyGuard(reflector, directory, { adminToken: ADMIN } as PushledgerConfig);
}

function request(headers: Record<string, string>) {
  const req: { headers: Record<string, string>; body: unknown; caller?: { app: { id: string }; keyKind: string } } = { headers, body: undefined };
  const ctx = { getHandler: () => undefined, getClass: () => undefined, switchToHttp: () => ({ getRequest: () => req }) } as unknown as ExecutionContext;
  return { req, ctx };
}

function refusal(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('the guard let the request through');
}

describe('AppKeyGuard: the admin token acting as an app', () => {
  it('passes a server route as the app named in X-Pushledger-App, with server rights', () => {
    const { req, ctx } = request({ authorization: `Bearer ${ADMIN}`, 'x-pushledger-app': APP.id });
    expect(guardFor('server').canActivate(ctx)).toBe(true);
    expect(req.caller).toMatchObject({ app: { id: APP.id }, keyKind: 'server' });
  });

  it('answers 404 for an app that does not exist, and 400 naming the header when it is missing', () => {
    expect(refusal(() => guardFor('server').canActivate(request({ authorization: `Bearer ${ADMIN}`, 'x-pushledger-app': 'app_other' }).ctx)).status).toBe(404);
    const missing = refusal(() => guardFor('server').canActivate(request({ authorization: `Bearer ${ADMIN}` }).ctx));
    expect(missing.status).toBe(400);
    expect(JSON.stringify(missing.details)).toContain('x-pushledger-app');
  });

  it('keeps admin-or-server routes open to the admin token alone, and the header opens nothing to another key', () => {
    const { req, ctx } = request({ authorization: `Bearer ${ADMIN}` });
    expect(guardFor('admin-or-server').canActivate(ctx)).toBe(true);
    expect(req.caller).toBeUndefined();
    expect(refusal(() => guardFor('server').canActivate(request({ authorization: 'Bearer pls_someoneElse', 'x-pushledger-app': APP.id }).ctx)).status).toBe(401);
    expect(refusal(() => guardFor('write').canActivate(request({ authorization: `Bearer ${ADMIN}`, 'x-pushledger-app': APP.id }).ctx)).status).toBe(401);
  });
});
