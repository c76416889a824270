import { AppEvent, AppRecord, AppSettingsPatch, AppSettingsV1, DEFAULT_APP_SETTINGS, evolveApp } from '@pushledger/contracts';
import type { AppCommand } from './app.commands';
import type { Decider } from './decider';
import { AppAlreadyExistsError, AppNotFoundError, InvalidCommandError } from './domain-errors';

/** null: no such app. */
export type AppState = AppRecord | null;

export function decideApp(command: AppCommand, state: AppState, now: Date): AppEvent[] {
  if (state && state.id !== command.appId) throw new InvalidCommandError('command for another app stream');
  switch (command.type) {
    case 'CreateApp':
      if (state) throw new AppAlreadyExistsError(command.appId);
      return [
        {
          type: 'AppCreated',
          data: {
            appId: command.appId,
            name: command.name,
            writeKeyHash: command.writeKeyHash,
            serverKeyHash: command.serverKeyHash,
            ...(command.identitySecretHash ? { identitySecretHash: command.identitySecretHash } : {}),
            fcm: command.fcm,
            ...(command.apns ? { apns: command.apns } : {}),
            ...(command.webpush ? { webpush: command.webpush } : {}),
            settings: withPatch(DEFAULT_APP_SETTINGS, command.settings),
            createdAt: now.toISOString(),
          },
        },
      ];
    case 'ChangeAppSettings': {
      if (!state) throw new AppNotFoundError(command.appId);
      const settings = withPatch(state.settings, command.settings);
      const events: AppEvent[] = [];
      // The fact carries all the settings, decided on the stream's latest state, so concurrent changes compose.
      if (!sameAppSettings(settings, state.settings)) events.push({ type: 'AppSettingsChanged', data: { appId: command.appId, settings, changedAt: now.toISOString() } });
      // A sealed key is never equal to another sealing of itself, so credentials given are always a fact (removing none is not).
      if (command.apns !== undefined && !(command.apns === null && state.apns === null)) events.push({ type: 'AppApnsChanged', data: { appId: command.appId, apns: command.apns, changedAt: now.toISOString() } });
      if (command.webpush !== undefined && !(command.webpush === null && state.webpush === null)) events.push({ type: 'AppWebpushChanged', data: { appId: command.appId, webpush: command.webpush, changedAt: now.toISOString() } });
      return events;
    }
    case 'RotateAppKeys': {
      if (!state) throw new AppNotFoundError(command.appId);
      if (!Number.isInteger(command.graceSeconds) || command.graceSeconds < 0) throw new InvalidCommandError('graceSeconds must be a whole number of seconds, 0 or more');
      // Only the keys just replaced get a grace period: keys replaced earlier stop at once.
      const previous = command.graceSeconds > 0 ? { writeKeyHash: state.writeKeyHash, serverKeyHash: state.serverKeyHash, validUntil: new Date(now.getTime() + command.graceSeconds * 1000).toISOString() } : undefined;
      return [{ type: 'AppKeysRotated', data: { appId: command.appId, writeKeyHash: command.writeKeyHash, serverKeyHash: command.serverKeyHash, rotatedAt: now.toISOString(), ...(previous ? { previous } : {}) } }];
    }
    default: {
      const _exhaustive: never = command;
      throw new InvalidCommandError(`unknown app command ${(_exhaustive as { type: string }).type}`);
    }
  }
}

export function evolveAppState(state: AppState, event: AppEvent): AppState {
  return evolveApp(state ?? undefined, event) ?? null;
}

export const appDecider: Decider<AppCommand, AppState, AppEvent> = {
  initialState: null,
  decide: decideApp,
  evolve: evolveAppState,
};

function withPatch(settings: AppSettingsV1, patch: AppSettingsPatch): AppSettingsV1 {
  const named = Object.entries(patch).filter(([, v]) => v !== undefined);
  return { ...settings, ...Object.fromEntries(named) };
}

/** Equal setting by setting, whatever the key order (the store keeps its own). */
export function sameAppSettings(a: AppSettingsV1, b: AppSettingsV1): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)] as (keyof AppSettingsV1)[]);
  return [...keys].every((k) => a[k] === b[k]);
}
