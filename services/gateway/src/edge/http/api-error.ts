/** The one error shape of the API: `{ "error": { "code", "message", "details"? } }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }

  static badRequest(code: string, message: string, details?: unknown) {
    return new ApiError(400, code, message, details);
  }
  static validation(field: string, reason: string) {
    return new ApiError(400, 'validation_failed', `${field}: ${reason}`, [{ field, reason }]);
  }
  static unauthorized(message = 'a valid API key is required') {
    return new ApiError(401, 'unauthorized', message, undefined, { 'WWW-Authenticate': 'Basic realm="pushledger", Bearer' });
  }
  /** The caller named a user its app verifies without proving it (see libs/contracts identity-verification.ts). */
  static userHashInvalid() {
    return new ApiError(401, 'user_hash_invalid', 'this app verifies identities: userHash must be the hex HMAC-SHA256 of the user id under the identity secret');
  }
  static forbidden(message: string) {
    return new ApiError(403, 'forbidden', message);
  }
  static notFound(what: string) {
    return new ApiError(404, 'not_found', `${what} not found`);
  }
  static conflict(code: string, message: string) {
    return new ApiError(409, code, message);
  }
  static unprocessable(code: string, message: string, details?: unknown) {
    return new ApiError(422, code, message, details);
  }
  /** Something the request needs is away for now: retry after `retryAfterSeconds` (writes with the same Idempotency-Key). */
  static unavailable(message: string, retryAfterSeconds = 1) {
    return new ApiError(503, 'unavailable', message, undefined, { 'Retry-After': String(retryAfterSeconds) });
  }

  body() {
    return { error: { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) } };
  }
}
