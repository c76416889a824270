import type { CoversAll } from './common';

/**
 * Facts of the token stream `token-<appId>-<tokenHash>`: which device of the app holds a token,
 * and whether the token is dead. The raw token never appears here (only its hash, in the stream id).
 */
interface TokenFact {
  appId: string;
  tokenHash: string;
  at: string;
}

/**
 * A device took the token; `claim` counts the claims (1 for the first). The previous device must
 * release it; a release names the claim so it cannot undo a later re-claim.
 */
export type TokenClaimed = {
  type: 'TokenClaimed';
  data: TokenFact & { deviceId: string; previousDeviceId: string | null; claim: number };
};

/** The provider declared the token dead. Final: no device may claim it again. */
export type TokenRetired = {
  type: 'TokenRetired';
  data: TokenFact & { deviceId: string | null; reason: string };
};

/**
 * The device holding the token unregistered: nobody holds it now, and the next claim (by any device, this
 * one too) takes it. `deviceId` stays the device a later claim releases it from; `claim` is its generation.
 */
export type TokenUnclaimed = { type: 'TokenUnclaimed'; data: TokenFact & { deviceId: string; claim: number } };

export type TokenEvent = TokenClaimed | TokenRetired | TokenUnclaimed;

export const TokenEventTypes = ['TokenClaimed', 'TokenRetired', 'TokenUnclaimed'] as const satisfies readonly TokenEvent['type'][];
export type TokenEventType = (typeof TokenEventTypes)[number];
const _everyTokenEventListed: CoversAll<TokenEvent['type'], TokenEventType> = true;

export const TokenEventSchemaVersions = { TokenClaimed: 1, TokenRetired: 1, TokenUnclaimed: 1 } as const satisfies Record<TokenEvent['type'], number>;

export type TokenEventOf<T extends TokenEventType> = Extract<TokenEvent, { type: T }>;
