import type { AppApnsSummaryV1, AppSettingsV1, AppWebpushSummaryV1 } from './apps';
import type { DeviceStatus, LastStatus, Platform, Provider } from './events';

// The views owners answer with (command replies, queries) and the gateway presents; typed here, so the
// gateway needs nothing of the deciders that build them (libs/domain, libs/lifecycle).

/** The device as the API shows it (api.md), plus what sending needs. The token is unmasked here; the gateway masks it. */
export interface DeviceView {
  id: string;
  appId: string;
  userId: string | null;
  platform: Platform;
  provider: Provider;
  token: string | null;
  status: DeviceStatus;
  lastStatus: LastStatus;
  pushEnabled: boolean | null;
  model: string | null;
  osVersion: string | null;
  appVersion: string | null;
  locale: string | null;
  timezone: string | null;
  registeredAt: string;
  lastSeenAt: string;
  revision: number;
  consecutiveBounces: number;
  /** When the current token was first registered on this device (for the `most_recent` policy). */
  tokenRegisteredAt: string | null;
}

/** The app deleted the registration: reads answer 404 and sends pass it over, as for a device that never existed. */
export const isUnregistered = (d: { status: DeviceStatus }): boolean => d.status === 'unregistered';

export interface UserView {
  id: string;
  appId: string;
  traits: Record<string, unknown>;
  unsubscribed: boolean;
  /** Subscription topics the user set: `false` turned off; a topic not listed is on. */
  topics: Record<string, boolean>;
  erased: boolean;
  deviceIds: string[];
  revision: number;
}

/** The app as the API shows it: credentials never leave the store, only whether there are any. */
export interface AppView {
  id: string;
  name: string;
  fcm: { projectId: string; hasServiceAccount: boolean };
  apns?: AppApnsSummaryV1;
  webpush?: AppWebpushSummaryV1;
  settings: AppSettingsV1;
  createdAt: string;
}

/** A stored fact as history reads show it: position as a decimal string, token fields masked. */
export interface HistoryEntry {
  type: string;
  occurredAt: string;
  data: unknown;
  position: string;
  revision: number;
}
