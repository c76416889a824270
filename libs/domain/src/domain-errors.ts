/** Rule violations a caller can act on. `code` is the snake_case code the API answers with. */
export abstract class DomainError extends Error {
  abstract readonly code: string;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The token was declared dead by its provider; it never becomes valid again (API: 409 token_invalidated). */
export class TokenInvalidatedError extends DomainError {
  readonly code = 'token_invalidated';
  constructor(readonly appId: string) {
    super('this token was invalidated by its push provider and cannot be registered again; register a new token');
  }
}

export class DeviceNotFoundError extends DomainError {
  readonly code = 'device_not_found';
  constructor(readonly appId: string, readonly deviceId: string) {
    super(`device ${deviceId} does not exist`);
  }
}

export class AppNotFoundError extends DomainError {
  readonly code = 'app_not_found';
  constructor(readonly appId: string) {
    super(`app ${appId} does not exist`);
  }
}

/** App ids are random, so this is an id collision (a redelivered command is recognised before it is decided). */
export class AppAlreadyExistsError extends DomainError {
  readonly code = 'app_already_exists';
  constructor(readonly appId: string) {
    super(`app ${appId} already exists`);
  }
}

/** The user id was erased and stays suppressed until the erasure is lifted (API: 409 user_erased). */
export class UserErasedError extends DomainError {
  readonly code = 'user_erased';
  constructor(readonly appId: string) {
    super('this user was erased; lift the erasure before using the id again');
  }
}

export class InvalidCommandError extends DomainError {
  readonly code = 'invalid_command';
}
