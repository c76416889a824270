import type { AppSettingsV1 } from '../apps';

/**
 * The part of an app's settings (see ../apps) that the device and user rules read. Defaults come
 * from DEFAULT_APP_SETTINGS there: devicePolicy `all`, staleAfterDays 60, maxDevicesPerUser 50.
 */
export type LifecycleSettings = Pick<AppSettingsV1, 'devicePolicy' | 'staleAfterDays' | 'maxDevicesPerUser'>;
