import { planSegmentMessage, SegmentValidationError } from '@pushledger/contracts';
import { ApiError } from '../http/api-error';
import type { OwnerClient } from '../../infrastructure/owner.client';
import type { Caller } from '../auth/access';
import { requireSegmentUserHash } from '../auth/user-hash';

export const MAX_BATCH = 500;
export const SEGMENT_OK = { success: true } as const;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const idOf = (v: unknown): string | null => (typeof v === 'string' && v !== '') || typeof v === 'number' ? String(v) : null;

/**
 * The Kafka key: the device when the message names one, so a device's messages stay in order on one
 * partition; else the user.
 */
/** The message's lane: its device, or else its user under a keyed hash (no Kafka key names a user). */
function keyOf(owners: OwnerClient, appId: string, m: Json): string | null {
  const properties = isObject(m.properties) ? m.properties : {};
  const context = isObject(m.context) ? m.context : {};
  const device = isObject(context.device) ? context.device : {};
  const userId = idOf(m.userId);
  return idOf(properties.deviceId) ?? idOf(m.anonymousId) ?? idOf(device.id) ?? (userId ? owners.userCommandKey(appId, userId) : null);
}

/** Checked here: a user's proof, valid for good, need not sit in the topic for its retention. */
function withoutUserHash(message: Json): Json {
  const { userHash: _userHash, ...rest } = message;
  if (!isObject(rest.context) || !('userHash' in rest.context)) return rest;
  const { userHash: _inContext, ...context } = rest.context;
  return { ...rest, context };
}

/**
 * Validates Segment messages with the consumer's own parser (so a 200 means the consumer will apply
 * them) and publishes them durably to the gateway's ingest topic, tagged with the caller's app. The stored value
 * never carries the write key. A message naming a user is checked here as the ingest consumer would check it, and
 * a batch with one that fails is refused whole: nothing of it is queued.
 * `messages[i].type`: forced by /v1/track and /v1/identify, as Segment does; `field`: how a 400 names the message.
 */
export async function publishSegment(owners: OwnerClient, caller: Caller, messages: { raw: unknown; type?: 'track' | 'identify'; field: string }[]): Promise<typeof SEGMENT_OK> {
  const now = new Date();
  const appId = caller.app.id;
  const out = messages.map(({ raw, type, field }) => {
    if (!isObject(raw)) throw ApiError.validation(field || 'body', 'must be an object');
    const { writeKey: _writeKey, ...message } = raw;
    if (type) message.type = type;
    // Traits are ordered by when their messages were taken (or their own timestamps), not by when they are applied.
    message.receivedAt = now.toISOString();
    try {
      planSegmentMessage(message, appId, 'validation', now);
    } catch (err) {
      if (err instanceof SegmentValidationError) throw ApiError.validation(err.field === 'message' ? field || 'body' : `${field ? `${field}.` : ''}${err.field}`, err.reason);
      throw err;
    }
    requireSegmentUserHash(caller, message);
    return { key: keyOf(owners, appId, message), value: withoutUserHash(message), headers: { 'app-id': appId } };
  });
  if (!out.length) return SEGMENT_OK;
  try {
    await owners.publish(owners.topics.gatewayIngest, out);
  } catch {
    throw ApiError.unavailable('the event could not be queued; retry');
  }
  return SEGMENT_OK;
}
