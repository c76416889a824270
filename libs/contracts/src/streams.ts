/**
 * Stream naming, in one place. A stream holds one aggregate's facts; its category is the text
 * before the first '-', so `device-<appId>-<deviceId>` is in category `device`.
 * App ids never contain '-' (they are generated as `app_<base32>`), so the app id is
 * always the second segment.
 */
export const StreamCategories = { device: 'device', user: 'user', token: 'token', app: 'app' } as const;
export type StreamCategory = (typeof StreamCategories)[keyof typeof StreamCategories];

export const deviceStream = (appId: string, deviceId: string): string => `device-${appId}-${deviceId}`;
/**
 * The logical name of a user's stream. The store keeps it pseudonymised (libs/privacy:
 * `user-<appId>-~<keyed hash>`), so the raw id never reaches the database, replays or Kafka keys. An id
 * that itself starts with `~` is escaped with a second one, so a logical name never looks like a stored one.
 */
export const userStream = (appId: string, userId: string): string => `user-${appId}-${userId.startsWith('~') ? `~${userId}` : userId}`;
/** One app's facts: creation and settings changes (owned by the registration service). */
export const appStream = (appId: string): string => `app-${appId}`;
/** Token ownership: which device of an app holds a token (one device per token per app). */
export const tokenStream = (appId: string, tokenHash: string): string => `token-${appId}-${tokenHash}`;

export function parseStream(stream: string): { category: string; appId: string; id: string } | null {
  const first = stream.indexOf('-');
  const second = first < 0 ? -1 : stream.indexOf('-', first + 1);
  if (first < 0 || second < 0) return null;
  return { category: stream.slice(0, first), appId: stream.slice(first + 1, second), id: stream.slice(second + 1) };
}
