import type { DevicePolicy } from '@pushledger/contracts';
import { isUnregistered, type DeviceView } from './device.view';
import { eligibility, type EligibilityContext, type EligibilityDevice, type EligibilityUser, type IneligibleReason, type Message } from './eligibility';

/** A policy for a user's devices, or one explicit device or token. */
export type DeviceChoice = DevicePolicy | { deviceId: string } | { token: string };

export type ChoiceDevice = Pick<DeviceView, 'id' | 'token' | 'lastSeenAt' | 'tokenRegisteredAt'>;

const byId = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const time = (iso: string | null): number => {
  const t = iso === null ? NaN : Date.parse(iso);
  return Number.isNaN(t) ? -Infinity : t;
};

/** Latest by `key`, ties to the smallest device id. */
function latest<D extends ChoiceDevice>(devices: readonly D[], key: (d: D) => string | null): D[] {
  const best = [...devices].sort((a, b) => time(key(b)) - time(key(a)) || byId(a, b))[0];
  return best ? [best] : [];
}

/** Picks among already eligible devices; results come in device-id order, so the choice is deterministic. */
export function chooseDevices<D extends ChoiceDevice>(eligible: readonly D[], choice: DeviceChoice): D[] {
  if (typeof choice === 'object') {
    return eligible.filter((d) => ('deviceId' in choice ? d.id === choice.deviceId : d.token === choice.token)).sort(byId);
  }
  switch (choice) {
    case 'all':
      return [...eligible].sort(byId);
    case 'last_active':
      return latest(eligible, (d) => d.lastSeenAt);
    case 'most_recent':
      return latest(eligible, (d) => d.tokenRegisteredAt);
    default: {
      const _exhaustive: never = choice;
      return [];
    }
  }
}

export type SkipReason = IneligibleReason | 'not_chosen';

export interface SendPlan<D> {
  targeted: D[];
  skipped: Partial<Record<SkipReason, number>>;
  /** Each skipped device with its reason, for per-device outcomes. */
  skippedDevices: { device: D; reason: SkipReason }[];
}

/**
 * One message against the candidate devices (a user's devices, or the one device named): eligibility
 * first, then the device choice among the eligible ones. `users` gives each owner's consent state.
 * Unregistered candidates are left out entirely (neither targeted nor skipped).
 */
export function planSend<D extends EligibilityDevice & ChoiceDevice>(
  candidates: readonly D[],
  users: ReadonlyMap<string, EligibilityUser>,
  message: Message,
  appPolicy: DevicePolicy,
  ctx: EligibilityContext<D>,
): SendPlan<D> {
  const skipped: Partial<Record<SkipReason, number>> = {};
  const skippedDevices: { device: D; reason: SkipReason }[] = [];
  const skip = (device: D, reason: SkipReason): void => {
    skipped[reason] = (skipped[reason] ?? 0) + 1;
    skippedDevices.push({ device, reason });
  };
  const eligible: D[] = [];
  for (const device of candidates) {
    // Gone, not skipped: counted nowhere, like a device that never existed.
    if (isUnregistered(device)) continue;
    const verdict = eligibility(device, device.userId === null ? null : (users.get(device.userId) ?? null), message, ctx);
    if (verdict.eligible) eligible.push(device);
    else skip(device, verdict.reason);
  }
  const to = message.to;
  const choice: DeviceChoice = 'userId' in to ? (message.devicePolicy ?? appPolicy) : to;
  const targeted = chooseDevices(eligible, choice);
  const chosen = new Set(targeted);
  for (const device of eligible) if (!chosen.has(device)) skip(device, 'not_chosen');
  return { targeted, skipped, skippedDevices };
}
