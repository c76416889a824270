/** The comparison lives with the contracts, so identity verification (libs/contracts) shares it without loading this platform. */
export { sameSecret } from '@pushledger/contracts';

/** The bearer token of an `Authorization` header, if it carries one. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const m = /^bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return m ? m[1] : undefined;
}
