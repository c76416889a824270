import { parseStream, userStream, type JsonObject, type JsonValue, type SealedTokenV1 } from '@pushledger/contracts';

/** Document ids carry the app id, so one collection serves every tenant and ids never collide across apps. */
export const deviceDocId = (appId: string, deviceId: string): string => `${appId}:${deviceId}`;
export const userDocId = (appId: string, userId: string): string => `${appId}:${userId}`;

/** The id part of a user stream's stored name, for a user id in clear (see UserDoc). */
export type UserKeyResolver = (appId: string, userId: string) => Promise<string>;

/** A store that pseudonymises user streams and shreds personal data and tokens on erasure (libs/privacy). */
/** Seals tokens with their devices' keys, as the store seals them (libs/privacy `sealTokens`). */
export type TokenSealer = (appId: string, items: readonly { deviceId: string; token: string }[]) => Promise<SealedTokenV1[]>;

/** A shredding store's token sealer; null for a store that keeps tokens in clear (the read models then do too). */
export function tokenSealerOf(store?: unknown): TokenSealer | null {
  const s = store as { sealTokens?: TokenSealer } | undefined;
  return s && typeof s.sealTokens === 'function' ? s.sealTokens.bind(s) : null;
}

export const isShreddingStore = (store: unknown): boolean => typeof (store as { storedStreamName?: unknown } | undefined)?.storedStreamName === 'function';

/**
 * Resolves user keys through the store that names the streams: a pseudonymising store (libs/privacy,
 * `storedStreamName`) gives the pseudonym, any other store the user id as `userStream` spells it.
 */
export function userKeysOf(store?: unknown): UserKeyResolver {
  const named = store as { storedStreamName?: (stream: string) => Promise<string> } | undefined;
  if (named && typeof named.storedStreamName === 'function') {
    const storedName = named.storedStreamName.bind(named);
    return async (appId, userId) => parseStream(await storedName(userStream(appId, userId)))!.id;
  }
  return async (appId, userId) => parseStream(userStream(appId, userId))!.id;
}

/**
 * Field names FerretDB (and MongoDB paths) cannot hold: '.' anywhere, '$' in front, and the empty name.
 * `%` starts every escape, so the encoding is reversible and a name never decodes to two different ones.
 */
export function encodeKey(key: string): string {
  if (key === '') return '%';
  const escaped = key.replace(/%/g, '%25').replace(/\./g, '%2E');
  return escaped.startsWith('$') ? `%24${escaped.slice(1)}` : escaped;
}

export function decodeKey(key: string): string {
  if (key === '%') return '';
  return key.replace(/%(25|2E|24)/g, (_, code: string) => (code === '25' ? '%' : code === '2E' ? '.' : '$'));
}

function mapKeys(value: JsonValue, f: (key: string) => string): JsonValue {
  if (Array.isArray(value)) return value.map((v) => mapKeys(v, f));
  if (value !== null && typeof value === 'object') {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) out[f(k)] = mapKeys(v, f);
    return out;
  }
  return value;
}

/** Traits are free JSON: every key at every depth is encoded before it reaches the database. */
export const encodeTraits = (traits: JsonObject): JsonObject => mapKeys(traits, encodeKey) as JsonObject;
export const decodeTraits = (traits: JsonObject): JsonObject => mapKeys(traits, decodeKey) as JsonObject;

/** FNV-1a (32 bit) over UTF-16 code units: stable across processes and versions, cheap, well spread. */
export function partitionOf(id: string, partitions: number): number {
  if (partitions <= 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

const VERSION = /^[vV]?(\d{1,8})(?:\.(\d{1,8}))?(?:\.(\d{1,8}))?(?:\.(\d{1,8}))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]*)?$/;
const pad = (digits: string): string => digits.padStart(8, '0');

/**
 * A version as text that sorts like semver: up to four numeric parts, each zero-padded to 8 digits, then
 * `-<pre-release>` (numeric identifiers padded too) or `~` for a release, so `2.0.0-beta` < `2.0.0` < `2.0.0.1`.
 * null when the text is not a version (such a device never matches a version comparison).
 */
export function versionSortKey(version: string | null | undefined): string | null {
  if (typeof version !== 'string') return null;
  const m = VERSION.exec(version.trim());
  if (!m) return null;
  const core = [m[1], m[2] ?? '0', m[3] ?? '0', m[4] ?? '0'].map(pad).join('.');
  const pre = m[5];
  if (pre === undefined) return `${core}~`;
  return `${core}-${pre
    .split('.')
    .map((id) => (/^\d{1,8}$/.test(id) ? pad(id) : id))
    .join('.')}`;
}

/** Bigint positions as fixed-width text: sortable and comparable inside the database as strings. */
export const positionText = (position: bigint): string => position.toString().padStart(20, '0');
export const positionOf = (text: string | null | undefined): bigint => (text ? BigInt(text) : 0n);
