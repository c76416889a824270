import type { DeviceAttributesPatch, JsonObject, Platform, RegistryCommandOf } from './events';
import { deterministicUuid } from './ids';
import { providerOfToken } from './token-provider';

/** A Segment-format message (Tracking API / Kafka ingest), as far as Pushledger reads it. */
export interface SegmentMessage {
  type: 'track' | 'identify' | string;
  messageId?: string;
  userId?: string | null;
  anonymousId?: string | null;
  event?: string;
  properties?: Record<string, unknown>;
  traits?: Record<string, unknown>;
  context?: Record<string, unknown>;
  timestamp?: string;
  /** Set by the gateway when it accepts the message over HTTP. */
  receivedAt?: string;
  writeKey?: string;
}

export type SegmentPlan =
  | { kind: 'register'; command: RegistryCommandOf<'RegisterToken'> }
  | { kind: 'identify'; device: RegistryCommandOf<'Identify'> | null; traits: RegistryCommandOf<'UpdateTraits'> | null }
  | { kind: 'event'; name: string }
  | { kind: 'ignored'; why: string };

export class SegmentValidationError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

const MAX_ID = 256;
const MAX_TOKEN = 4096;
const REGISTER_PUSH = /^register[ _]push$/i;

function str(v: unknown, field: string, opts: { required?: boolean; max?: number } = {}): string | null {
  if (v === undefined || v === null || v === '') {
    if (opts.required) throw new SegmentValidationError(field, 'is required');
    return null;
  }
  if (typeof v !== 'string' && typeof v !== 'number') throw new SegmentValidationError(field, 'must be a string');
  const s = String(v);
  if (s.length > (opts.max ?? MAX_ID)) throw new SegmentValidationError(field, `must be at most ${opts.max ?? MAX_ID} characters`);
  return s;
}

function date(v: unknown, field: string): Date | null {
  if (v === undefined || v === null || v === '') return null;
  const d = typeof v === 'string' ? new Date(v) : null;
  if (d === null || Number.isNaN(d.getTime())) throw new SegmentValidationError(field, 'must be an ISO-8601 date');
  return d;
}

/**
 * When a message's traits were observed: its `timestamp`, but never after it was received (a client clock
 * running ahead would otherwise pin its traits against later messages); without either, when it is applied.
 */
function observedAt(m: SegmentMessage, now: Date): string {
  const received = date(m.receivedAt, 'receivedAt') ?? now;
  const stamped = date(m.timestamp, 'timestamp');
  return (stamped !== null && stamped < received ? stamped : received).toISOString();
}

function obj(v: unknown, field: string): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new SegmentValidationError(field, 'must be an object');
  return v as Record<string, unknown>;
}

export function platformOf(v: string, field: string): Platform {
  const p = v.toLowerCase();
  if (p === 'ios' || p === 'android' || p === 'web') return p;
  throw new SegmentValidationError(field, 'must be one of iOS, Android, Web');
}

function attributesFrom(context: Record<string, unknown>): DeviceAttributesPatch {
  const device = obj(context.device, 'context.device');
  const os = obj(context.os, 'context.os');
  const app = obj(context.app, 'context.app');
  const out: DeviceAttributesPatch = {};
  const model = str(device.model, 'context.device.model');
  const osVersion = str(os.version, 'context.os.version', { max: 64 });
  const appVersion = str(app.version, 'context.app.version', { max: 64 });
  const locale = str(context.locale, 'context.locale', { max: 64 });
  const timezone = str(context.timezone, 'context.timezone', { max: 64 });
  if (model !== null) out.model = model;
  if (osVersion !== null) out.osVersion = osVersion;
  if (appVersion !== null) out.appVersion = appVersion;
  if (locale !== null) out.locale = locale;
  if (timezone !== null) out.timezone = timezone;
  return out;
}

/**
 * What a Segment message asks of the registry. `register push` (Intilery) registers a device, with the
 * device id as user id meaning "anonymous"; `identify` links the device named by anonymousId or
 * context.device.id and merges traits. The command id derives from the app and messageId, so a
 * duplicate messageId is applied once.
 */
export function planSegmentMessage(raw: unknown, appId: string, fallbackId: string, now: Date): SegmentPlan {
  const m = obj(raw, 'message') as unknown as SegmentMessage;
  const type = str(m.type, 'type', { required: true, max: 32 });
  const messageId = str(m.messageId, 'messageId') ?? fallbackId;
  const commandId = deterministicUuid(`segment:${appId}:${messageId}`);
  const meta = { commandId, appId, issuedAt: now.toISOString() };
  const context = obj(m.context, 'context');
  const userId = str(m.userId, 'userId');
  const anonymousId = str(m.anonymousId, 'anonymousId');
  if (userId === null && anonymousId === null) throw new SegmentValidationError('userId', 'userId or anonymousId is required');
  switch (type) {
    case 'track': {
      const event = str(m.event, 'event', { required: true });
      if (!REGISTER_PUSH.test(event!)) {
        obj(m.properties, 'properties');
        return { kind: 'event', name: event! };
      }
      const p = obj(m.properties, 'properties');
      const deviceId = str(p.deviceId, 'properties.deviceId', { required: true })!;
      const token = str(p.fcmToken ?? p.token, 'properties.fcmToken', { required: true, max: MAX_TOKEN })!;
      const platform = platformOf(str(p.deviceType, 'properties.deviceType', { required: true, max: 16 })!, 'properties.deviceType');
      const enabled = p.pushEnabled;
      if (enabled !== undefined && typeof enabled !== 'boolean') throw new SegmentValidationError('properties.pushEnabled', 'must be a boolean');
      // Intilery: anonymous devices send the FCM device id as userId.
      const owner = userId !== null && userId !== deviceId ? userId : null;
      return {
        kind: 'register',
        command: { ...meta, type: 'RegisterToken', deviceId, token, provider: providerOfToken(token, platform), platform, attributes: attributesFrom(context), pushEnabled: (enabled as boolean | undefined) ?? true, userId: owner },
      };
    }
    case 'identify': {
      if (userId === null) throw new SegmentValidationError('userId', 'is required for identify');
      const traits = obj(m.traits ?? context.traits, 'traits') as JsonObject;
      const deviceRef = anonymousId ?? str(obj(context.device, 'context.device').id, 'context.device.id');
      return {
        kind: 'identify',
        device: deviceRef !== null && deviceRef !== userId ? { ...meta, type: 'Identify', device: { deviceId: deviceRef }, userId, traits: null } : null,
        traits: Object.keys(traits).length ? { ...meta, commandId: deterministicUuid(`segment:${appId}:${messageId}:traits`), type: 'UpdateTraits', userId, traits, observedAt: observedAt(m, now) } : null,
      };
    }
    default:
      return { kind: 'ignored', why: `type ${type} carries nothing for the registry` };
  }
}
