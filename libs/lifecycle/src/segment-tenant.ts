import { segmentUserHashAccepted, type IdentityVerifiedApp } from '@pushledger/contracts';

/**
 * Whose a Segment message from Kafka is. Anyone allowed to write the ingest topic could put any app's id in
 * a header, so by default only the write key in the message names the app; the `app-id` header counts
 * only where it is trusted: on the gateway's own topic (the gateway authenticated the caller), or on the
 * ingest topic when INGEST_TRUST_APP_ID_HEADER=true (every producer with write access is trusted to name
 * the right app, e.g. one internal system behind ACLs). A message named by its write key is a write-key request:
 * where its app verifies identities, a `userId` needs its `userHash` (libs/contracts identity-verification.ts).
 */
export type SegmentTenantRejection = 'write_key_required' | 'unknown_key' | 'unknown_app' | 'app_id_mismatch' | 'user_hash_invalid';

export interface SegmentTenantSource {
  /** The `app-id` header, if the message has one. */
  appId?: string;
  /** Whether that header may name the app of a message without a write key. */
  trustAppId: boolean;
}

export interface SegmentTenantLookup<A extends { id: string } & IdentityVerifiedApp> {
  byWriteKey(writeKey: string): Promise<A | undefined>;
  byId(appId: string): Promise<A | undefined>;
}

export type SegmentTenant<A> = { app: A } | { reason: SegmentTenantRejection; message: string };

export async function segmentTenant<A extends { id: string } & IdentityVerifiedApp>(body: unknown, source: SegmentTenantSource, lookup: SegmentTenantLookup<A>): Promise<SegmentTenant<A>> {
  const writeKey = body && typeof body === 'object' && !Array.isArray(body) ? (body as { writeKey?: unknown }).writeKey : undefined;
  if (typeof writeKey === 'string' && writeKey !== '') {
    const app = await lookup.byWriteKey(writeKey);
    if (!app) return { reason: 'unknown_key', message: 'the writeKey belongs to no app' };
    // A header that contradicts the key is a producer trying another app's id, trusted or not.
    if (source.appId !== undefined && source.appId !== app.id) return { reason: 'app_id_mismatch', message: "the app-id header names another app than the writeKey's" };
    // Like a write-key request to the gateway; a trusted app-id header (a pipeline the operator vouches for) is like a server key.
    if (!segmentUserHashAccepted(app, body)) return { reason: 'user_hash_invalid', message: 'the app verifies identities: userId needs its userHash (hex HMAC-SHA256 under the identity secret)' };
    return { app };
  }
  if (source.appId === undefined) return { reason: 'write_key_required', message: "the message needs its app's writeKey" };
  if (!source.trustAppId) return { reason: 'write_key_required', message: "an app-id header alone does not name the app here (INGEST_TRUST_APP_ID_HEADER is off): the message needs its app's writeKey" };
  const app = await lookup.byId(source.appId);
  return app ? { app } : { reason: 'unknown_app', message: 'the app-id header names no app' };
}
