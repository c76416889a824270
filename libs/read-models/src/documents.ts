import type { JsonObject } from '@pushledger/contracts';
import { toDeviceView, type DeviceState, type DeviceView, type UserState } from '@pushledger/domain';
import { toUserView, type UserView } from '@pushledger/lifecycle';
import { tokenHash } from '@pushledger/observability';
import { decodeTraits, deviceDocId, encodeTraits, userDocId, versionSortKey } from './keys';

/**
 * A device: its view exactly as `toDeviceView` gives it, plus what folding the next fact and finding the
 * device by token need. The decider's two dedupe lists (recent message ids, invalidated tokens) are left
 * out: only `decide` reads them, never the view, and they would make the document several KB.
 */
export interface DeviceDoc extends DeviceView {
  _id: string;
  tokenHash: string | null;
  tokenClaim: number;
  appVersionSort: string | null;
  osVersionSort: string | null;
}

/**
 * One device as its owner's user document carries it: everything targeting and segments read, so a
 * campaign reads users only. `rev` is the device revision it reflects. `reachableSeenAt` is `lastSeenAt`
 * when nothing but staleness could stop a marketing push (token, active, not suppressed, push not
 * disabled), else null: one field answers "has an eligible device" with a single range condition.
 */
export interface DeviceSummary {
  id: string;
  rev: number;
  platform: DeviceView['platform'];
  provider: DeviceView['provider'];
  token: string | null;
  status: DeviceView['status'];
  lastStatus: DeviceView['lastStatus'];
  pushEnabled: boolean | null;
  model: string | null;
  osVersion: string | null;
  appVersion: string | null;
  locale: string | null;
  timezone: string | null;
  registeredAt: string;
  lastSeenAt: string;
  tokenRegisteredAt: string | null;
  consecutiveBounces: number;
  appVersionSort: string | null;
  osVersionSort: string | null;
  reachableSeenAt: string | null;
}

/**
 * A user: the user stream's state (`revision` = facts folded, 0 when the document exists only because
 * devices name this user), and the devices that name this user as owner (the device streams are the
 * truth about ownership). `v` is a write nonce for compare-and-set: two sources write this document.
 */
export interface UserDoc {
  _id: string;
  appId: string;
  userId: string;
  v: string;
  revision: number;
  /** Keys encoded (see keys.ts). */
  traits: JsonObject;
  unsubscribed: boolean;
  erased: boolean;
  /** The user stream's linked devices (UserState.devices), as a list: device ids may not be field names. */
  linkedDevices: { id: string; lastSeenAt: string }[];
  /** UserState.deviceRevisions, as a list. */
  deviceRevisions: { id: string; rev: number }[];
  /** Sorted by id. */
  devices: DeviceSummary[];
  deviceCount: number;
  platforms: string[];
  lastSeenAt: string | null;
}

const byId = <T extends { id: string }>(a: T, b: T): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export function deviceDocOf(s: DeviceState): DeviceDoc {
  return {
    _id: deviceDocId(s.appId, s.deviceId),
    ...toDeviceView(s),
    tokenHash: s.token === null ? null : tokenHash(s.token),
    tokenClaim: s.tokenClaim,
    appVersionSort: versionSortKey(s.attributes.appVersion),
    osVersionSort: versionSortKey(s.attributes.osVersion),
  };
}

export function deviceStateOf(d: DeviceDoc): DeviceState {
  return {
    appId: d.appId,
    deviceId: d.id,
    userId: d.userId,
    platform: d.platform,
    provider: d.provider,
    token: d.token,
    tokenClaim: d.tokenClaim,
    status: d.status,
    lastStatus: d.lastStatus,
    consecutiveBounces: d.consecutiveBounces,
    pushEnabled: d.pushEnabled,
    attributes: { model: d.model, osVersion: d.osVersion, appVersion: d.appVersion, locale: d.locale, timezone: d.timezone },
    registeredAt: d.registeredAt,
    tokenRegisteredAt: d.tokenRegisteredAt,
    lastSeenAt: d.lastSeenAt,
    recentMessageIds: [],
    invalidatedTokens: [],
    revision: d.revision,
  };
}

/** Exactly what `toDeviceView` returns for the stored state (no document bookkeeping). */
export const deviceViewOf = (d: DeviceDoc): DeviceView => toDeviceView(deviceStateOf(d));

export function summaryOf(s: DeviceState): DeviceSummary {
  const reachable = s.token !== null && s.status === 'active' && s.lastStatus !== 'suppressed' && s.pushEnabled !== false;
  return {
    id: s.deviceId,
    rev: s.revision,
    platform: s.platform,
    provider: s.provider,
    token: s.token,
    status: s.status,
    lastStatus: s.lastStatus,
    pushEnabled: s.pushEnabled,
    model: s.attributes.model,
    osVersion: s.attributes.osVersion,
    appVersion: s.attributes.appVersion,
    locale: s.attributes.locale,
    timezone: s.attributes.timezone,
    registeredAt: s.registeredAt,
    lastSeenAt: s.lastSeenAt,
    tokenRegisteredAt: s.tokenRegisteredAt,
    consecutiveBounces: s.consecutiveBounces,
    appVersionSort: versionSortKey(s.attributes.appVersion),
    osVersionSort: versionSortKey(s.attributes.osVersion),
    reachableSeenAt: reachable ? s.lastSeenAt : null,
  };
}

/** The device view of a summary in its owner's document. */
export function summaryView(appId: string, userId: string, d: DeviceSummary): DeviceView {
  return {
    id: d.id,
    appId,
    userId,
    platform: d.platform,
    provider: d.provider,
    token: d.token,
    status: d.status,
    lastStatus: d.lastStatus,
    pushEnabled: d.pushEnabled,
    model: d.model,
    osVersion: d.osVersion,
    appVersion: d.appVersion,
    locale: d.locale,
    timezone: d.timezone,
    registeredAt: d.registeredAt,
    lastSeenAt: d.lastSeenAt,
    revision: d.rev,
    consecutiveBounces: d.consecutiveBounces,
    tokenRegisteredAt: d.tokenRegisteredAt,
  };
}

export function emptyUserDoc(appId: string, userId: string): UserDoc {
  return {
    _id: userDocId(appId, userId),
    appId,
    userId,
    v: '',
    revision: 0,
    traits: {},
    unsubscribed: false,
    erased: false,
    linkedDevices: [],
    deviceRevisions: [],
    devices: [],
    deviceCount: 0,
    platforms: [],
    lastSeenAt: null,
  };
}

/** null while no user fact was folded (the document only gathers devices that name this user). */
export function userStateOf(d: UserDoc): UserState | null {
  if (d.revision === 0) return null;
  return {
    appId: d.appId,
    userId: d.userId,
    devices: Object.fromEntries(d.linkedDevices.map((l) => [l.id, { lastSeenAt: l.lastSeenAt }])),
    deviceRevisions: Object.fromEntries(d.deviceRevisions.map((r) => [r.id, r.rev])),
    traits: decodeTraits(d.traits),
    unsubscribed: d.unsubscribed,
    erased: d.erased,
    revision: d.revision,
  };
}

export function withUserState(d: UserDoc, s: UserState): UserDoc {
  return {
    ...d,
    revision: s.revision,
    traits: encodeTraits(s.traits),
    unsubscribed: s.unsubscribed,
    erased: s.erased,
    linkedDevices: Object.entries(s.devices)
      .map(([id, l]) => ({ id, lastSeenAt: l.lastSeenAt }))
      .sort(byId),
    deviceRevisions: Object.entries(s.deviceRevisions)
      .map(([id, rev]) => ({ id, rev }))
      .sort(byId),
  };
}

function withDevices(d: UserDoc, devices: DeviceSummary[]): UserDoc {
  const seen = devices.map((x) => x.lastSeenAt).sort();
  return {
    ...d,
    devices,
    deviceCount: devices.length,
    platforms: [...new Set(devices.map((x) => x.platform))].sort(),
    lastSeenAt: seen.length ? seen[seen.length - 1] : null,
  };
}

/** Puts the device's summary in; a summary at or below the revision already held changes nothing. */
export function upsertDevice(d: UserDoc, summary: DeviceSummary): UserDoc {
  const current = d.devices.find((x) => x.id === summary.id);
  if (current && current.rev >= summary.rev) return d;
  return withDevices(d, [...d.devices.filter((x) => x.id !== summary.id), summary].sort(byId));
}

/** Takes the device out as of device revision `rev` (it now names someone else, or nobody). */
export function removeDevice(d: UserDoc, deviceId: string, rev: number): UserDoc {
  const current = d.devices.find((x) => x.id === deviceId);
  if (!current || current.rev >= rev) return d;
  return withDevices(
    d,
    d.devices.filter((x) => x.id !== deviceId),
  );
}

/** Nothing to keep: no user fact, and no device names this user. */
export const isEmptyUserDoc = (d: UserDoc): boolean => d.revision === 0 && d.devices.length === 0;

/** The user as the API shows it (the same as the lifecycle's `toUserView` over the user stream). */
export function userViewOf(d: UserDoc): UserView | null {
  const s = userStateOf(d);
  return s ? toUserView(s) : null;
}
