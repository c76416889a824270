import type { DeviceEvent, JsonObject, SealedTokenV1, UserEvent } from '@pushledger/contracts';
import { evolveDevice, evolveUser, toDeviceView, type DeviceState, type DeviceView, type UserState } from '@pushledger/domain';
import type { UserView } from '@pushledger/contracts';
import { toUserView } from '@pushledger/lifecycle';
import { isMaskedToken, maskToken, tokenHash } from '@pushledger/observability';
import { decodeTraits, deviceDocId, encodeTraits, positionText, userDocId, versionSortKey } from './keys';

/**
 * A device: its view exactly as `toDeviceView` gives it, plus what folding the next fact and finding the
 * device by token need. The decider's two dedupe lists (recent message ids, invalidated tokens) are left
 * out: only `decide` reads them, never the view, and they would make the document several KB.
 */
export interface DeviceDoc extends DeviceView {
  _id: string;
  /** Store position (fixed-width text) of the last fact that set the owner: an erasure forgets only an older ownership. */
  ownerSince: string;
  /** The same for the token: an erasure listing the device shreds the tokens stored before it (libs/privacy). */
  tokenSince: string;
  tokenHash: string | null;
  /**
   * With a shredding store (libs/privacy) the token is kept sealed with the device's key (the `$enc` text of
   * the sealed value: field names may not start with `$`), and `token` holds it masked; absent elsewhere
   * (`token` then holds it whole).
   */
  sealedToken?: string | null;
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
  /** As on the device's document. */
  sealedToken?: string | null;
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
 *
 * `_id` is `<appId>:<key>`, the key being the id part of the user stream's *stored* name: the pseudonym
 * when the store pseudonymises user streams (libs/privacy), the user id otherwise. `userId` is the id in
 * clear as the last readable fact gave it; null once the user is erased (their personal data no longer
 * opens, and the read models forget the id too, exactly as a rebuild after the erasure would).
 */
export interface UserDoc {
  _id: string;
  appId: string;
  userId: string | null;
  v: string;
  revision: number;
  /** Keys encoded (see keys.ts). */
  traits: JsonObject;
  unsubscribed: boolean;
  /** UserState.topics (names are TOPIC_NAME, safe as field names); may be missing on documents written before topics. */
  topics?: Record<string, boolean>;
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

/** `prev`: the document folded before, whose token hash and sealed token still hold while the token is the same. */
export function deviceDocOf(s: DeviceState, ownerSince: string, tokenSince: string, prev?: DeviceDoc | null): DeviceDoc {
  const same = prev != null && prev.token === s.token;
  return {
    _id: deviceDocId(s.appId, s.deviceId),
    ...toDeviceView(s),
    ownerSince,
    tokenSince,
    tokenHash: same ? prev.tokenHash : s.token === null ? null : tokenHash(s.token),
    ...(same && prev.sealedToken !== undefined ? { sealedToken: prev.sealedToken } : {}),
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

/** Facts that set a device's owner (to someone, or to nobody), and its token. */
const OWNERSHIP_FACTS: ReadonlySet<string> = new Set(['TokenRegistered', 'Identified', 'LoggedOut', 'DeviceDetached', 'DeviceAnonymised']);
const TOKEN_FACTS: ReadonlySet<string> = new Set(['TokenRegistered', 'TokenRefreshed', 'TokenReleased', 'DeviceUnregistered']);

/** Folds the stream's `revision`-th fact (stored at `position`) with the domain's `evolveDevice`. */
export function foldDeviceFact(d: DeviceDoc | null, event: DeviceEvent, revision: number, position: bigint): DeviceDoc | null {
  const evolved = evolveDevice(d ? deviceStateOf(d) : null, event);
  if (!evolved) return d;
  const at = positionText(position);
  // Pinned to the stream, so a fact type this code does not know still counts as folded.
  return deviceDocOf({ ...evolved, revision }, !d || OWNERSHIP_FACTS.has(event.type) ? at : d.ownerSince, !d || TOKEN_FACTS.has(event.type) ? at : d.tokenSince, d);
}

/** A token held whole (not masked yet). */
export const isWholeToken = (token: string | null): token is string => !!token && !isMaskedToken(token);

/** The document keeping its token sealed (`sealed`, with the device's key) and showing it masked. */
export function withSealedToken(d: DeviceDoc, sealed: SealedTokenV1): DeviceDoc {
  return d.token === null ? d : { ...d, token: maskToken(d.token), sealedToken: sealed.$enc };
}

/**
 * Under crypto-shredding (libs/privacy) an erasure makes the erased user's personal data, and the tokens
 * of the devices it lists, unreadable in every fact stored before it: a rebuild then folds those devices
 * as nobody's and without token. The live read models do the same at the erasure (stored at `erasedAt`),
 * so both agree: the owner is forgotten unless the device changed hands since, the token unless a newer one
 * was stored since.
 */
export function forgetOwner(d: DeviceDoc, erasedAt: bigint): DeviceDoc {
  return d.userId === null || d.ownerSince >= positionText(erasedAt) ? d : { ...d, userId: null };
}

export function forgetToken(d: DeviceDoc, erasedAt: bigint): DeviceDoc {
  return d.token === null || d.tokenSince >= positionText(erasedAt) ? d : { ...d, token: null, tokenHash: null, ...(d.sealedToken !== undefined ? { sealedToken: null } : {}) };
}

/** The summary of a device's document in its owner's document (its sealed token with it). */
export function summaryOfDoc(d: DeviceDoc): DeviceSummary {
  return { ...summaryOf(deviceStateOf(d)), ...(d.sealedToken !== undefined ? { sealedToken: d.sealedToken } : {}) };
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

/** `key`: the user stream's stored id part (see UserDoc); the user id itself when streams are not pseudonymised. */
export function emptyUserDoc(appId: string, userId: string | null, key: string = userId ?? ''): UserDoc {
  return {
    _id: userDocId(appId, key),
    appId,
    userId,
    v: '',
    revision: 0,
    traits: {},
    unsubscribed: false,
    topics: {},
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
    userId: d.userId ?? '',
    devices: Object.fromEntries(d.linkedDevices.map((l) => [l.id, { lastSeenAt: l.lastSeenAt }])),
    deviceRevisions: Object.fromEntries(d.deviceRevisions.map((r) => [r.id, r.rev])),
    traits: decodeTraits(d.traits),
    unsubscribed: d.unsubscribed,
    topics: d.topics ?? {},
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
    topics: s.topics ?? {},
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

/**
 * Puts the device's summary in; a summary at or below the revision already held changes nothing, except
 * with `sameRevision` (an erasure's forgetting changes a device without a fact) at the same revision.
 */
export function upsertDevice(d: UserDoc, summary: DeviceSummary, sameRevision = false): UserDoc {
  const current = d.devices.find((x) => x.id === summary.id);
  if (current && (current.rev > summary.rev || (current.rev === summary.rev && !sameRevision))) return d;
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

/**
 * The user as the API shows it (the same as the lifecycle's `toUserView` over the user stream).
 * `asked`: the id the caller looked up (an erased user's document no longer holds it).
 */
export function userViewOf(d: UserDoc, asked?: string): UserView | null {
  const s = userStateOf(d);
  return s ? toUserView({ ...s, userId: asked ?? d.userId ?? '' }) : null;
}

/**
 * Folds one user fact (the stream's `revision`-th). The id in clear comes from the fact's personal data
 * when it opens; an erasure forgets it, and under crypto-shredding (`shreds`) the device summaries too
 * (their devices forget the owner: `forgetOwner`).
 */
export function foldUserFact(d: UserDoc, event: UserEvent, revision: number, shreds = false): UserDoc {
  const state = { ...evolveUser(userStateOf(d), event), revision };
  const pii = (event.data as { pii?: { userId?: unknown } }).pii;
  if (event.type === 'UserErased') return { ...(shreds ? withDevices(withUserState(d, state), []) : withUserState(d, state)), userId: null };
  return { ...withUserState(d, state), userId: typeof pii?.userId === 'string' ? pii.userId : d.userId };
}
