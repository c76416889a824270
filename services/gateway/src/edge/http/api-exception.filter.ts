import { ArgumentsHost, BadRequestException, Catch, ExceptionFilter, HttpException, LoggerService } from '@nestjs/common';
import type { Response } from 'express';
import { UNAVAILABLE_RETRY_AFTER_SECONDS, unreachableEngine } from '@pushledger/platform';
import { IdempotencyKeyReusedError, InvalidIdempotencyKeyError } from '../../infrastructure/idempotency.store';
import { OwnerRefusedError, OwnerUnavailableError } from '../../infrastructure/owner.client';
import { ApiError } from './api-error';

/** The owners' refusals, as the API answers them; any other code is a 422. */
const OWNER_STATUS: Record<string, number> = { token_invalidated: 409, user_erased: 409, not_found: 404, app_already_exists: 409, invalid_command: 422, invalid_campaign_kind: 409, send_finished: 409, validation_failed: 400, not_implemented: 501 };

const STATUS_CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'unprocessable_entity',
  429: 'rate_limited',
  503: 'unavailable',
};

/** Turns every failure into the API's error shape; only a fault of ours is a 500. */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  constructor(private readonly logger: LoggerService) {}

  catch(exception: unknown, host: ArgumentsHost) {
    const res = host.switchToHttp().getResponse<Response>();
    const err = toApiError(exception);
    const error = exception instanceof Error ? exception.message : String(exception);
    // An engine or an owner away is expected now and then and says so in /health: not logged as a fault of ours.
    if (err.status === 503) this.logger.warn('request failed: unavailable', { engine: unreachableEngine(exception) ?? undefined, error });
    else if (err.status >= 500) this.logger.error('request failed', { status: err.status, error });
    if (err.headers) for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
    if (!res.headersSent) res.status(err.status).json(err.body());
  }
}

export function toApiError(exception: unknown): ApiError {
  if (exception instanceof ApiError) return exception;
  // The streams' owner did not answer: not a fault of the request, and not a 500; a retry may find it back.
  if (exception instanceof OwnerUnavailableError) return ApiError.unavailable('a service the gateway needs did not answer in time; retry (writes with the same Idempotency-Key)');
  // An engine (Kafka, the read-model database, or the event store behind an owner) cannot be reached: a retry will get through once it is back.
  if (unreachableEngine(exception) !== null || (exception instanceof OwnerRefusedError && exception.code === 'unavailable')) {
    return ApiError.unavailable('a database or broker the request needs is unreachable; retry (writes with the same Idempotency-Key)', UNAVAILABLE_RETRY_AFTER_SECONDS);
  }
  // One 404 for a device that is missing, of another app, or gone, whichever service noticed.
  if (exception instanceof OwnerRefusedError && exception.code === 'device_not_found') return ApiError.notFound('device');
  if (exception instanceof OwnerRefusedError) return new ApiError(OWNER_STATUS[exception.code] ?? 422, exception.code, exception.message, exception.details);
  if (exception instanceof InvalidIdempotencyKeyError) return ApiError.validation('Idempotency-Key', exception.message);
  if (exception instanceof IdempotencyKeyReusedError) return ApiError.unprocessable('idempotency_key_reused', exception.message);
  // Errors from the body parser (express) carry `type` and `status`.
  const e = exception as { type?: string; status?: number; statusCode?: number; message?: string; expose?: boolean };
  if (e?.type === 'entity.too.large') return new ApiError(413, 'payload_too_large', 'the request body is larger than 64 KiB');
  if (e?.type === 'entity.parse.failed') return new ApiError(400, 'invalid_json', 'the request body is not valid JSON');
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') return new ApiError(415, 'unsupported_media_type', e.message ?? 'unsupported encoding');
  if (e?.type && typeof e.status === 'number' && e.status < 500) return new ApiError(e.status, STATUS_CODES[e.status] ?? 'bad_request', e.message ?? 'bad request');
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const response = exception.getResponse() as { message?: unknown } | string;
    const message = typeof response === 'string' ? response : Array.isArray(response.message) ? response.message.join('; ') : String(response.message ?? exception.message);
    // Nest hands body-parser's SyntaxError on as a BadRequestException carrying only the message.
    if (status === 400 && exception instanceof BadRequestException && /JSON/.test(message)) return new ApiError(400, 'invalid_json', 'the request body is not valid JSON');
    return new ApiError(status, STATUS_CODES[status] ?? (status >= 500 ? 'internal_error' : 'bad_request'), status === 404 ? 'route not found' : message);
  }
  // A body nested deeper than validation or serialisation can recurse (64 KiB allows ~10,000 levels).
  if (exception instanceof RangeError && /call stack/i.test(exception.message)) return new ApiError(400, 'body_too_deep', 'the request body is nested too deeply');
  return new ApiError(500, 'internal_error', 'an internal error occurred');
}
