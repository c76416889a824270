import type { AppDirectoryEntryV1, AppView, DeviceView, UserExportV1, UserView } from '@pushledger/contracts';
import { maskToken } from '@pushledger/observability';

/** The device as the API shows it: the token masked, internal counters left out. */
export function presentDevice(v: DeviceView) {
  return {
    id: v.id,
    appId: v.appId,
    userId: v.userId,
    platform: v.platform,
    provider: v.provider,
    token: v.token ? maskToken(v.token) : null,
    status: v.status,
    lastStatus: v.lastStatus,
    pushEnabled: v.pushEnabled,
    model: v.model,
    osVersion: v.osVersion,
    appVersion: v.appVersion,
    locale: v.locale,
    timezone: v.timezone,
    registeredAt: v.registeredAt,
    lastSeenAt: v.lastSeenAt,
    revision: v.revision,
  };
}

export function presentUser(u: UserView) {
  return { id: u.id, appId: u.appId, traits: u.traits, unsubscribed: u.unsubscribed, topics: u.topics ?? {}, erased: u.erased, deviceIds: u.deviceIds, revision: u.revision };
}

/** The app as the admin API shows it: no key hashes, only whether credentials exist. */
export function presentApp(a: AppDirectoryEntryV1): AppView {
  return { id: a.id, name: a.name, fcm: a.fcm, ...(a.apns ? { apns: a.apns } : {}), ...(a.webpush ? { webpush: a.webpush } : {}), settings: a.settings, createdAt: a.createdAt };
}

export function presentExport(x: UserExportV1) {
  return {
    exportedAt: new Date().toISOString(),
    user: presentUser(x.user),
    userEvents: x.userEvents,
    devices: x.devices.map((d) => ({ ...d, device: d.device ? presentDevice(d.device) : null })),
  };
}
