import type { AppSettingsPatch, AppSettingsV1 } from '@pushledger/contracts';
import { sameAppSettings } from '@pushledger/domain';

/**
 * Where a history of app settings (creation first, then each change) is not each change applied to the
 * settings just before it: a change decided on an older state undoes the ones in between. Each patch
 * must explain exactly one step. Empty when every change landed on the latest state.
 */
export function changesNotOnTheLatest(history: AppSettingsV1[], patches: AppSettingsPatch[]): string[] {
  const left = [...patches];
  const problems: string[] = [];
  for (let i = 1; i < history.length; i++) {
    const at = left.findIndex((p) => sameAppSettings({ ...history[i - 1], ...p }, history[i]));
    if (at < 0) problems.push(`change ${i} (${JSON.stringify(history[i])}) is no patch applied to ${JSON.stringify(history[i - 1])}`);
    else left.splice(at, 1);
  }
  for (const p of left) problems.push(`patch ${JSON.stringify(p)} never landed`);
  return problems;
}

/** Ten settings changes, two per setting, each to a value no other one (nor the default) sets: each is a change in any order. */
export const TEN_SETTINGS_CHANGES: AppSettingsPatch[] = [
  { staleAfterDays: 101 },
  { maxDevicesPerUser: 201 },
  { rateLimitPerSecond: 3001 },
  { fcmQuotaPerMinute: 400_001 },
  { devicePolicy: 'last_active' },
  { staleAfterDays: 102 },
  { maxDevicesPerUser: 202 },
  { rateLimitPerSecond: 3002 },
  { fcmQuotaPerMinute: 400_002 },
  { devicePolicy: 'most_recent' },
];
