import type { CampaignSendEvent, CampaignSendStatus, CampaignWaveStatus } from '@pushledger/contracts';
import type { CampaignSendCommand } from './campaign-send.commands';
import type { Decider } from './decider';
import { DomainError, InvalidCommandError } from './domain-errors';

/** A wave whose runner died this many times is failed instead of being taken up again. */
export const GIVE_UP_WAVE_AFTER_RUNS = 5;

export interface CampaignWaveState {
  wave: string | null;
  dueAt: string;
  status: CampaignWaveStatus;
  /** How many times a runner took the wave up (more than 1: it was resumed after a runner died). */
  run: number;
  leaseUntil: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  targeted: number;
  skipped: Record<string, number>;
  error: string | null;
}

export type CampaignSendState = {
  appId: string;
  campaignId: string;
  messageId: string;
  cancelledAt: string | null;
  waves: CampaignWaveState[];
} | null;

export class CampaignSendNotFoundError extends DomainError {
  readonly code = 'not_found';
  constructor() {
    super('campaign send not found');
  }
}

/** The runner's claim on a wave lapsed and another run (or a cancel of a wave not yet started) replaced it. */
export class CampaignWaveLeaseLostError extends DomainError {
  readonly code = 'lease_lost';
  constructor(wave: string | null, run: number) {
    super(`run ${run} of wave ${wave ?? '(whole send)'} no longer holds it`);
  }
}

export class CampaignSendFinishedError extends DomainError {
  readonly code = 'send_finished';
  constructor(status: CampaignSendStatus) {
    super(`the send is already ${status}; there is nothing left to cancel`);
  }
}

const waveKey = (wave: string | null) => wave ?? '';

/** The send as a whole: cancelled once cancelled; sending while any wave runs; then failed, or sent. */
export function campaignSendStatus(state: NonNullable<CampaignSendState>): CampaignSendStatus {
  if (state.cancelledAt) return 'cancelled';
  const statuses = state.waves.map((w) => w.status);
  if (statuses.includes('sending')) return 'sending';
  if (statuses.every((s) => s === 'scheduled')) return 'scheduled';
  if (statuses.includes('scheduled')) return 'sending';
  return statuses.includes('failed') ? 'failed' : 'sent';
}

export function decideCampaignSend(command: CampaignSendCommand, state: CampaignSendState, now: Date): CampaignSendEvent[] {
  const at = now.toISOString();
  if (command.type === 'ScheduleCampaignSend') {
    // A retried send request finds the send scheduled: nothing new.
    if (state) return [];
    if (!command.waves.length) throw new InvalidCommandError('a send has at least one wave');
    return [{ type: 'CampaignSendScheduled', data: { appId: command.appId, campaignId: command.campaignId, messageId: command.messageId, waves: command.waves, at } }];
  }
  if (!state) throw new CampaignSendNotFoundError();
  switch (command.type) {
    case 'CancelCampaignSend': {
      if (state.cancelledAt) return [];
      const status = campaignSendStatus(state);
      if ((status === 'sent' || status === 'failed') && !stillDelivering(state, command.deliveryFinished)) throw new CampaignSendFinishedError(status);
      return [{ type: 'CampaignSendCancelled', data: { at } }];
    }
    case 'ClaimCampaignWave': {
      const w = waveOf(state, command.wave);
      if (w.status === 'scheduled' && !state.cancelledAt && new Date(w.dueAt) <= now) return [claimed(w, 1, command.leaseMs, now)];
      if (w.status !== 'sending' || !w.leaseUntil || new Date(w.leaseUntil) >= now) return [];
      // The runner holding it stopped renewing: take it up again, or give up after enough runs.
      if (w.run >= GIVE_UP_WAVE_AFTER_RUNS) return [{ type: 'CampaignWaveFailed', data: { wave: w.wave, run: w.run, error: `its runner stopped ${w.run} times before finishing`, at } }];
      return [claimed(w, w.run + 1, command.leaseMs, now)];
    }
    case 'RenewCampaignWaveLease': {
      const w = heldWave(state, command.wave, command.run);
      return [{ type: 'CampaignWaveLeaseRenewed', data: { wave: w.wave, run: w.run, leaseUntil: new Date(now.getTime() + command.leaseMs).toISOString() } }];
    }
    case 'RecordCampaignWaveTargeted': {
      const w = heldWave(state, command.wave, command.run);
      return [{ type: 'CampaignWaveTargeted', data: { wave: w.wave, run: w.run, targeted: command.targeted, skipped: command.skipped, at } }];
    }
    case 'FailCampaignWave': {
      const w = heldWave(state, command.wave, command.run);
      return [{ type: 'CampaignWaveFailed', data: { wave: w.wave, run: w.run, error: command.error, at } }];
    }
    default: {
      const _exhaustive: never = command;
      throw new InvalidCommandError(`unknown campaign send command ${(_exhaustive as { type: string }).type}`);
    }
  }
}

/**
 * Every wave targeted, but delivery has not finished every pair handed to it (a quota paces it): a cancel still
 * stops what is not sent yet. Delivery's count also holds the devices targeting skipped by name, so it may
 * reach `targeted` a little before the last pair is sent: the cancel is then refused, never accepted with
 * nothing left to stop. Unknown progress counts as finished.
 */
function stillDelivering(state: NonNullable<CampaignSendState>, deliveryFinished: number | undefined): boolean {
  if (deliveryFinished === undefined) return false;
  return deliveryFinished < state.waves.reduce((n, w) => n + w.targeted, 0);
}

function claimed(w: CampaignWaveState, run: number, leaseMs: number, now: Date): CampaignSendEvent {
  return { type: 'CampaignWaveClaimed', data: { wave: w.wave, run, leaseUntil: new Date(now.getTime() + leaseMs).toISOString(), at: now.toISOString() } };
}

function waveOf(state: NonNullable<CampaignSendState>, wave: string | null): CampaignWaveState {
  const w = state.waves.find((x) => waveKey(x.wave) === waveKey(wave));
  if (!w) throw new InvalidCommandError(`the send has no wave ${wave}`);
  return w;
}

/** A running wave's runner may renew, record or fail it only while its run is the current one. */
function heldWave(state: NonNullable<CampaignSendState>, wave: string | null, run: number): CampaignWaveState {
  const w = waveOf(state, wave);
  if (w.status !== 'sending' || w.run !== run) throw new CampaignWaveLeaseLostError(wave, run);
  return w;
}

export function evolveCampaignSend(state: CampaignSendState, event: CampaignSendEvent): CampaignSendState {
  switch (event.type) {
    case 'CampaignSendScheduled':
      return {
        appId: event.data.appId,
        campaignId: event.data.campaignId,
        messageId: event.data.messageId,
        cancelledAt: null,
        waves: event.data.waves.map((w) => ({ wave: w.wave, dueAt: w.dueAt, status: 'scheduled', run: 0, leaseUntil: null, startedAt: null, finishedAt: null, targeted: 0, skipped: {}, error: null })),
      };
    case 'CampaignSendCancelled':
      // Waves not started never will be; a running wave stops at its next chunk and records what it handed over.
      return state && { ...state, cancelledAt: event.data.at, waves: state.waves.map((w) => (w.status === 'scheduled' ? { ...w, status: 'cancelled', finishedAt: event.data.at } : w)) };
    case 'CampaignWaveClaimed':
      return withWave(state, event.data.wave, (w) => ({ ...w, status: 'sending', run: event.data.run, leaseUntil: event.data.leaseUntil, startedAt: w.startedAt ?? event.data.at }));
    case 'CampaignWaveLeaseRenewed':
      return withWave(state, event.data.wave, (w) => ({ ...w, leaseUntil: event.data.leaseUntil }));
    case 'CampaignWaveTargeted':
      return withWave(state, event.data.wave, (w) => ({ ...w, status: state?.cancelledAt ? 'cancelled' : 'sent', leaseUntil: null, finishedAt: event.data.at, targeted: event.data.targeted, skipped: event.data.skipped }));
    case 'CampaignWaveFailed':
      return withWave(state, event.data.wave, (w) => ({ ...w, status: 'failed', leaseUntil: null, finishedAt: event.data.at, error: event.data.error }));
    default: {
      const _exhaustive: never = event;
      return state;
    }
  }
}

function withWave(state: CampaignSendState, wave: string | null, change: (w: CampaignWaveState) => CampaignWaveState): CampaignSendState {
  return state && { ...state, waves: state.waves.map((w) => (waveKey(w.wave) === waveKey(wave) ? change(w) : w)) };
}

export const campaignSendDecider: Decider<CampaignSendCommand, CampaignSendState, CampaignSendEvent> = {
  initialState: null,
  decide: decideCampaignSend,
  evolve: evolveCampaignSend,
};
