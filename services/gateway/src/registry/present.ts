import type { DeviceView } from '@pushledger/domain';
import type { UserView } from '@pushledger/lifecycle';
import { maskToken, redact } from '@pushledger/observability';
import type { StoredEvent } from '@pushledger/event-store';

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
  return { id: u.id, appId: u.appId, traits: u.traits, unsubscribed: u.unsubscribed, erased: u.erased, deviceIds: u.deviceIds, revision: u.revision };
}

/** A stored fact as the history endpoint shows it; token fields are masked like everywhere else. */
export function presentEvent(e: StoredEvent) {
  return { type: e.type, occurredAt: e.metadata.occurredAt, data: redact(e.data), position: e.position.toString(), revision: Number(e.streamRevision) };
}
