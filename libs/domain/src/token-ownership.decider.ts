import type { TokenEvent } from '@pushledger/contracts';
import type { Decider } from './decider';
import { InvalidCommandError, TokenInvalidatedError } from './domain-errors';
import type { TokenCommand } from './token-ownership.commands';

/** One device per token per app, and dead tokens stay dead. */
export interface TokenOwnershipState {
  appId: string;
  tokenHash: string;
  /** null before the first claim and after an unclaim. */
  ownerDeviceId: string | null;
  /** Who held it before the current owner (or gave it up): the device a registration flow must release it from. */
  previousDeviceId: string | null;
  claim: number;
  retired: boolean;
  revision: number;
}

export function decideTokenOwnership(command: TokenCommand, state: TokenOwnershipState | null, now: Date): TokenEvent[] {
  if (state && (state.appId !== command.appId || state.tokenHash !== command.tokenHash)) {
    throw new InvalidCommandError('command for another token stream');
  }
  const fact = { appId: command.appId, tokenHash: command.tokenHash, at: now.toISOString() };
  switch (command.type) {
    case 'ClaimToken':
      if (state?.retired) throw new TokenInvalidatedError(command.appId);
      if (state?.ownerDeviceId === command.deviceId) return [];
      return [
        {
          type: 'TokenClaimed',
          // After an unclaim nobody holds it, but the device that gave it up is still the one to release it from.
          data: { ...fact, deviceId: command.deviceId, previousDeviceId: state ? (state.ownerDeviceId ?? state.previousDeviceId) : null, claim: (state?.claim ?? 0) + 1 },
        },
      ];
    case 'RetireToken':
      return state?.retired ? [] : [{ type: 'TokenRetired', data: { ...fact, deviceId: command.deviceId, reason: command.reason } }];
    case 'UnclaimToken':
      // Only its holder gives a token up; a dead token stays dead whoever held it.
      return state !== null && !state.retired && state.ownerDeviceId === command.deviceId
        ? [{ type: 'TokenUnclaimed', data: { ...fact, deviceId: command.deviceId, claim: state.claim } }]
        : [];
    default: {
      const _exhaustive: never = command;
      throw new InvalidCommandError(`unknown token command ${(_exhaustive as { type: string }).type}`);
    }
  }
}

export function evolveTokenOwnership(state: TokenOwnershipState | null, event: TokenEvent): TokenOwnershipState {
  const s: TokenOwnershipState = state ?? {
    appId: event.data.appId,
    tokenHash: event.data.tokenHash,
    ownerDeviceId: null,
    previousDeviceId: null,
    claim: 0,
    retired: false,
    revision: 0,
  };
  switch (event.type) {
    case 'TokenClaimed':
      return { ...s, ownerDeviceId: event.data.deviceId, previousDeviceId: event.data.previousDeviceId, claim: event.data.claim, revision: s.revision + 1 };
    case 'TokenRetired':
      return { ...s, retired: true, revision: s.revision + 1 };
    case 'TokenUnclaimed':
      return { ...s, ownerDeviceId: null, previousDeviceId: event.data.deviceId, revision: s.revision + 1 };
    default: {
      const _exhaustive: never = event;
      return s;
    }
  }
}

export const tokenOwnershipDecider: Decider<TokenCommand, TokenOwnershipState | null, TokenEvent> = {
  initialState: null,
  decide: decideTokenOwnership,
  evolve: evolveTokenOwnership,
};
