interface TokenTarget {
  appId: string;
  /** The service hashes the token (the raw token stays out of stream ids). */
  tokenHash: string;
}

export type TokenCommand = TokenTarget &
  (
    | { type: 'ClaimToken'; deviceId: string }
    /** `reason`: the provider's error code; `deviceId`: the device the failing push went to, if any. */
    | { type: 'RetireToken'; deviceId: string | null; reason: string }
    /** `deviceId` unregistered: it gives the token up if it still holds it. */
    | { type: 'UnclaimToken'; deviceId: string }
  );

export type TokenCommandType = TokenCommand['type'];
export type TokenCommandOf<T extends TokenCommandType> = Extract<TokenCommand, { type: T }>;
