import {
  DeviceAttributeNames,
  type DeviceAttributes,
  type DeviceAttributesPatch,
  type DeviceEvent,
  type DeviceStatus,
  type LastStatus,
  type Platform,
  type Provider,
  tokenHash,
} from '@pushledger/contracts';
import type { DeviceCommand, DeviceCommandOf } from './device.commands';
import type { Decider } from './decider';
import { DeviceNotFoundError, InvalidCommandError, TokenInvalidatedError } from './domain-errors';
import { boundedAppend } from './json';
import { SEEN_GRANULARITY_MS, isPastStaleWindow, laterOf, msSince } from './time';

/** Redelivered delivery outcomes are recognised by messageId among this many recent ones. */
export const RECENT_MESSAGE_IDS = 100;
/** The token stream is the authority on dead tokens; the device keeps a few of its own for a local check. */
export const REMEMBERED_INVALID_TOKENS = 20;

export interface DeviceState {
  appId: string;
  deviceId: string;
  userId: string | null;
  platform: Platform;
  provider: Provider;
  /** null after the token moved to another device. */
  token: string | null;
  tokenClaim: number;
  status: DeviceStatus;
  lastStatus: LastStatus;
  consecutiveBounces: number;
  pushEnabled: boolean | null;
  attributes: DeviceAttributes;
  registeredAt: string;
  tokenRegisteredAt: string | null;
  lastSeenAt: string;
  recentMessageIds: string[];
  invalidatedTokens: string[];
  /** Number of facts folded in. */
  revision: number;
}

export const EMPTY_ATTRIBUTES: DeviceAttributes = Object.freeze({ model: null, osVersion: null, appVersion: null, locale: null, timezone: null });

type Fact = { appId: string; deviceId: string; at: string };

/**
 * What an app or user asks of a device it names: an unregistered device is gone for these, exactly like
 * one that never existed. Follow-ups and delivery outcomes find nothing to change on it by themselves.
 */
const NEEDS_REGISTERED_DEVICE: ReadonlySet<DeviceCommand['type']> = new Set(['Identify', 'MarkSeen', 'UpdateDeviceAttributes', 'ChangePushPermission']);

export function decideDevice(command: DeviceCommand, state: DeviceState | null, now: Date): DeviceEvent[] {
  if (state && (state.appId !== command.appId || state.deviceId !== command.deviceId)) {
    throw new InvalidCommandError(`command for ${command.appId}/${command.deviceId} given the state of ${state.appId}/${state.deviceId}`);
  }
  const fact: Fact = { appId: command.appId, deviceId: command.deviceId, at: now.toISOString() };
  if (command.type === 'RegisterToken') return register(command, state, fact, now);
  if (!state) {
    // A release for a device that never existed has nothing to release; everything else needs the device.
    if (command.type === 'ReleaseToken') return [];
    throw new DeviceNotFoundError(command.appId, command.deviceId);
  }
  const s = state;
  if (s.status === 'unregistered' && NEEDS_REGISTERED_DEVICE.has(command.type)) throw new DeviceNotFoundError(command.appId, command.deviceId);
  switch (command.type) {
    case 'Identify':
      return identify(command, s, fact, now);
    case 'Logout':
      return s.userId !== null && s.userId === command.expectedOwner
        ? [{ type: 'LoggedOut', data: { ...fact, reason: 'logout', pii: { userId: s.userId } } }]
        : [];
    case 'MarkSeen':
      return sighting(s, fact, now);
    case 'UpdateDeviceAttributes':
      return attributeChanges(s.attributes, command.attributes, fact);
    case 'ChangePushPermission':
      return permissionChange(s.pushEnabled, command.pushEnabled, fact);
    case 'RecordPushSent':
      return outcomeApplies(s, command) && sentChangesDevice(s) ? [{ type: 'PushSent', data: { ...fact, messageId: command.messageId } }] : [];
    case 'RecordPushBounced': {
      if (!outcomeApplies(s, command)) return [];
      const consecutiveBounces = s.consecutiveBounces + 1;
      const bounced: DeviceEvent = { type: 'PushBounced', data: { ...fact, messageId: command.messageId, reason: command.reason, consecutiveBounces } };
      return consecutiveBounces >= 2 && s.lastStatus !== 'suppressed'
        ? [bounced, { type: 'DeviceSuppressed', data: { ...fact, messageId: command.messageId } }]
        : [bounced];
    }
    case 'InvalidateToken':
      // An invalidation of a token this device no longer holds must not kill its new token.
      if (command.invalidSince !== undefined && registeredSince(s, command.tokenHash, command.invalidSince)) return [];
      return s.token !== null && holdsToken(s, command.tokenHash) && s.status !== 'invalid'
        ? [{ type: 'TokenInvalidated', data: { ...fact, token: s.token, reason: command.reason, messageId: command.messageId } }]
        : [];
    case 'ExpireToken':
      if (!(command.staleAfterDays > 0)) throw new InvalidCommandError('staleAfterDays must be positive');
      // Decided on the device's own lastSeenAt, so an out-of-date job query cannot expire a fresh device.
      return s.token !== null && s.status === 'active' && isPastStaleWindow(s.lastSeenAt, now, command.staleAfterDays)
        ? [{ type: 'TokenExpired', data: { ...fact, token: s.token, lastSeenAt: s.lastSeenAt, staleAfterDays: command.staleAfterDays } }]
        : [];
    case 'ReleaseToken':
      // The claim fences off a late release: if this device re-claimed the token since, it keeps it.
      return s.token === command.token && command.claim > s.tokenClaim
        ? [{ type: 'TokenReleased', data: { ...fact, token: command.token, toDeviceId: command.toDeviceId, claim: command.claim } }]
        : [];
    case 'DetachDevice':
      return s.userId !== null && s.userId === command.expectedOwner
        ? [{ type: 'DeviceDetached', data: { ...fact, reason: command.reason, pii: { userId: s.userId } } }]
        : [];
    case 'AnonymiseDevice':
      return s.userId !== null && s.userId === command.userId ? [{ type: 'DeviceAnonymised', data: fact }] : [];
    case 'UnregisterDevice':
      return s.status === 'unregistered' ? [] : unregister(s, fact);
    default: {
      const _exhaustive: never = command;
      throw new InvalidCommandError(`unknown device command ${(_exhaustive as { type: string }).type}`);
    }
  }
}

/**
 * Whether the device registered the token (named by its hash) after `invalidSince` (APNs's 410 `timestamp`: when it
 * last knew the token dead). Apple: stop sending until the device registers the token again later; such a token stays valid.
 */
export function registeredSince(s: Pick<DeviceState, 'token' | 'tokenRegisteredAt'>, hash: string, invalidSince: string): boolean {
  const since = Date.parse(invalidSince);
  const registered = s.tokenRegisteredAt === null ? NaN : Date.parse(s.tokenRegisteredAt);
  return holdsToken(s, hash) && !Number.isNaN(since) && !Number.isNaN(registered) && registered > since;
}

/** Whether the device's current token is the one with this hash. */
export function holdsToken(s: Pick<DeviceState, 'token'>, hash: string): boolean {
  return s.token !== null && tokenHash(s.token) === hash;
}

/** The owner leaves by the usual logout (so the user's device list follows), then the device goes. */
function unregister(s: DeviceState, fact: Fact): DeviceEvent[] {
  const events: DeviceEvent[] = [];
  if (s.userId !== null) events.push({ type: 'LoggedOut', data: { ...fact, reason: 'unregistered', pii: { userId: s.userId } } });
  events.push({ type: 'DeviceUnregistered', data: { ...fact, token: s.token } });
  return events;
}

function register(c: DeviceCommandOf<'RegisterToken'>, s: DeviceState | null, fact: Fact, now: Date): DeviceEvent[] {
  if (!c.token) throw new InvalidCommandError('token is required');
  if (s?.invalidatedTokens.includes(c.token)) throw new TokenInvalidatedError(c.appId);
  if (!s) {
    return [
      {
        type: 'TokenRegistered',
        data: {
          ...fact,
          token: c.token,
          provider: c.provider,
          platform: c.platform,
          claim: c.claim,
          attributes: applyPatch(EMPTY_ATTRIBUTES, c.attributes),
          pushEnabled: c.pushEnabled,
        },
      },
    ];
  }
  const events: DeviceEvent[] = [];
  if (s.token !== c.token) {
    events.push({
      type: 'TokenRefreshed',
      data: { ...fact, previousToken: s.token, token: c.token, provider: c.provider, platform: c.platform, claim: c.claim },
    });
  } else {
    if (c.claim > s.tokenClaim) events.push({ type: 'TokenReclaimed', data: { ...fact, token: c.token, claim: c.claim } });
    events.push(...sighting(s, fact, now), ...statusReset(s, fact, 'reregistered'));
  }
  events.push(...attributeChanges(s.attributes, c.attributes, fact));
  if (c.pushEnabled !== null) events.push(...permissionChange(s.pushEnabled, c.pushEnabled, fact));
  return events;
}

function identify(c: DeviceCommandOf<'Identify'>, s: DeviceState, fact: Fact, now: Date): DeviceEvent[] {
  if (!c.userId) throw new InvalidCommandError('userId is required');
  if (s.userId === c.userId) return [...sighting(s, fact, now), ...statusReset(s, fact, 'identified')];
  const events: DeviceEvent[] = [];
  if (s.userId !== null) events.push({ type: 'LoggedOut', data: { ...fact, reason: 'moved', pii: { userId: s.userId } } });
  events.push({ type: 'Identified', data: { ...fact, pii: { userId: c.userId } } });
  // Identified itself counts as seen; only a stale token needs its own fact to become active.
  if (s.token !== null && s.status === 'stale') events.push({ type: 'TokenRevived', data: { ...fact, token: s.token } });
  events.push(...statusReset(s, fact, 'identified'));
  return events;
}

/** The device showed up: revive a stale token, else record the sighting if the last one is over an hour old. */
function sighting(s: DeviceState, fact: Fact, now: Date): DeviceEvent[] {
  if (s.token !== null && s.status === 'stale') return [{ type: 'TokenRevived', data: { ...fact, token: s.token } }];
  return msSince(s.lastSeenAt, now) >= SEEN_GRANULARITY_MS ? [{ type: 'DeviceSeen', data: fact }] : [];
}

function statusReset(s: DeviceState, fact: Fact, cause: 'identified' | 'reregistered'): DeviceEvent[] {
  if (s.token === null || s.status === 'invalid') return [];
  if (s.lastStatus !== 'bounced' && s.lastStatus !== 'suppressed') return [];
  return [{ type: 'DeliveryStatusReset', data: { ...fact, previous: s.lastStatus, cause } }];
}

/**
 * Facts record changes, not traffic: a sent push is a fact only when it moves the last status to `sent`
 * (from unused, bounced or suppressed) or ends a run of bounces; the n-th success in a row is delivery's
 * ledger's business, not the device stream's.
 */
function sentChangesDevice(s: DeviceState): boolean {
  return s.lastStatus !== 'sent' || s.consecutiveBounces > 0;
}

function outcomeApplies(s: DeviceState, c: { tokenHash: string; messageId: string }): boolean {
  return !s.recentMessageIds.includes(c.messageId) && holdsToken(s, c.tokenHash) && s.status !== 'invalid';
}

function applyPatch(current: DeviceAttributes, patch: DeviceAttributesPatch): DeviceAttributes {
  const next = { ...current };
  for (const name of DeviceAttributeNames) {
    const value = patch[name];
    if (value !== undefined) next[name] = value;
  }
  return next;
}

function attributeChanges(current: DeviceAttributes, patch: DeviceAttributesPatch, fact: Fact): DeviceEvent[] {
  const attributes = applyPatch(current, patch);
  const changed = DeviceAttributeNames.filter((name) => attributes[name] !== current[name]);
  return changed.length ? [{ type: 'DeviceAttributesUpdated', data: { ...fact, attributes, changed } }] : [];
}

function permissionChange(previous: boolean | null, pushEnabled: boolean, fact: Fact): DeviceEvent[] {
  return previous === pushEnabled ? [] : [{ type: 'PushPermissionChanged', data: { ...fact, pushEnabled, previous } }];
}

export function evolveDevice(state: DeviceState | null, event: DeviceEvent): DeviceState | null {
  if (event.type === 'TokenRegistered') {
    const d = event.data;
    return {
      appId: d.appId,
      deviceId: d.deviceId,
      userId: null,
      platform: d.platform,
      provider: d.provider,
      token: d.token,
      tokenClaim: d.claim,
      status: 'active',
      lastStatus: 'unused',
      consecutiveBounces: 0,
      pushEnabled: d.pushEnabled,
      attributes: d.attributes,
      registeredAt: d.at,
      tokenRegisteredAt: d.at,
      lastSeenAt: d.at,
      recentMessageIds: [],
      invalidatedTokens: [],
      revision: (state?.revision ?? 0) + 1,
    };
  }
  if (!state) throw new Error(`device stream does not start with TokenRegistered (got ${event.type})`);
  const s = state;
  const next = (changes: Partial<DeviceState>): DeviceState => ({ ...s, ...changes, revision: s.revision + 1 });
  const seenAt = laterOf(s.lastSeenAt, event.data.at);
  switch (event.type) {
    case 'TokenRefreshed': {
      const d = event.data;
      return next({
        token: d.token,
        provider: d.provider,
        platform: d.platform,
        tokenClaim: d.claim,
        status: 'active',
        lastStatus: 'unused',
        consecutiveBounces: 0,
        tokenRegisteredAt: d.at,
        lastSeenAt: seenAt,
      });
    }
    case 'TokenReclaimed':
      return next({ tokenClaim: event.data.claim, lastSeenAt: seenAt });
    case 'TokenRevived':
      return next({ status: 'active', lastSeenAt: seenAt });
    case 'DeviceSeen':
      return next({ lastSeenAt: seenAt });
    case 'DeviceAttributesUpdated':
      return next({ attributes: event.data.attributes });
    case 'PushPermissionChanged':
      return next({ pushEnabled: event.data.pushEnabled });
    case 'Identified':
      return next({ userId: event.data.pii.userId, lastSeenAt: seenAt });
    case 'LoggedOut':
    case 'DeviceDetached':
    case 'DeviceAnonymised':
      return next({ userId: null });
    case 'PushSent':
      return next({ lastStatus: 'sent', consecutiveBounces: 0, recentMessageIds: boundedAppend(s.recentMessageIds, event.data.messageId, RECENT_MESSAGE_IDS) });
    case 'PushBounced':
      return next({
        lastStatus: s.lastStatus === 'suppressed' ? 'suppressed' : 'bounced',
        consecutiveBounces: event.data.consecutiveBounces,
        recentMessageIds: boundedAppend(s.recentMessageIds, event.data.messageId, RECENT_MESSAGE_IDS),
      });
    case 'DeviceSuppressed':
      return next({ lastStatus: 'suppressed' });
    case 'DeliveryStatusReset':
      return next({ lastStatus: 'unused', consecutiveBounces: 0 });
    case 'TokenInvalidated':
      return next({ status: 'invalid', invalidatedTokens: boundedAppend(s.invalidatedTokens, event.data.token, REMEMBERED_INVALID_TOKENS) });
    case 'TokenExpired':
      return next({ status: 'stale' });
    case 'TokenReleased':
      // Without a token the device cannot be reached; it shows as invalid until it registers a new one.
      return next({ token: null, status: 'invalid', lastStatus: 'unused', consecutiveBounces: 0, tokenRegisteredAt: null });
    case 'DeviceUnregistered':
      // The owner left by the LoggedOut before it; a token registered again brings the device back (TokenRefreshed).
      return next({ token: null, status: 'unregistered', lastStatus: 'unused', consecutiveBounces: 0, tokenRegisteredAt: null });
    default: {
      const _exhaustive: never = event;
      return s;
    }
  }
}

export const deviceDecider: Decider<DeviceCommand, DeviceState | null, DeviceEvent> = {
  initialState: null,
  decide: decideDevice,
  evolve: evolveDevice,
};
