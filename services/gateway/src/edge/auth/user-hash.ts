import { segmentUserHashAccepted, userHashAccepted, type AppDirectoryEntryV1, type IdentityVerifiedApp } from '@pushledger/contracts';
import { ApiError } from '../http/api-error';
import type { Caller } from './access';

/**
 * Where the user id is in the path (Masivo, Customer.io) the hash comes in this header: their bodies are
 * the vendors' fixed device shapes. Where the user id is in the body, `userHash` sits beside it.
 */
export const USER_HASH_HEADER = 'x-user-hash';

/** The directory holds the hash opened (AppDirectory.apply); one still sealed did not open, and proves nothing. */
const verifiable = (app: AppDirectoryEntryV1): IdentityVerifiedApp => ({ settings: app.settings, identitySecretHash: typeof app.identitySecretHash === 'string' ? app.identitySecretHash : undefined });

/** A write key naming a user its app verifies must prove it; a server key need not. */
export function requireUserHash(caller: Caller, userId: string | null | undefined, userHash: unknown): void {
  if (caller.keyKind === 'write' && !userHashAccepted(verifiable(caller.app), userId, userHash)) throw ApiError.userHashInvalid();
}

/** The same for a Segment message (its `userHash` at the top or in `context`), as the ingest consumer checks it. */
export function requireSegmentUserHash(caller: Caller, message: unknown): void {
  if (caller.keyKind === 'write' && !segmentUserHashAccepted(verifiable(caller.app), message)) throw ApiError.userHashInvalid();
}
