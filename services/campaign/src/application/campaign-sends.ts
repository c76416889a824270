import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'crypto';
import type { Producer } from 'kafkajs';
import { campaignSendStream, type CampaignSendEvent, type CampaignSendStatus, type CampaignWavePlanV1, type CancelMessageCommand, type TopicMap } from '@pushledger/contracts';
import { CampaignSendNotFoundError, campaignSendDecider, campaignSendStatus, type CampaignSendCommand, type CampaignSendState } from '@pushledger/domain';
import { StreamExecutor, type StepResult } from '@pushledger/lifecycle';
import { CampaignsStore, type CampaignSendDoc } from '@pushledger/messages';
import { TOPICS } from '@pushledger/platform';

/** The producer campaign sends go out with (one per campaign process). */
export const CAMPAIGN_PRODUCER = Symbol('CAMPAIGN_PRODUCER');

export interface WaveClaim {
  appId: string;
  messageId: string;
  wave: string | null;
  run: number;
}

/** What a running wave learns between chunks: go on, stop handing pairs over (cancelled), or stop (another run holds it). */
export type WaveCheck = 'go' | 'cancelled' | 'lost';

/**
 * A campaign send's process, through its stream (the campaign service alone appends to it): every step is
 * decided on the stream's facts and appended under its revision, then the send's view documents are
 * rewritten from the resulting state.
 */
@Injectable()
export class CampaignSends {
  constructor(
    private readonly exec: StreamExecutor,
    private readonly views: CampaignsStore,
    @Inject(CAMPAIGN_PRODUCER) private readonly producer: Producer,
    @Inject(TOPICS) private readonly topics: TopicMap,
  ) {}

  async schedule(appId: string, campaignId: string, messageId: string, waves: CampaignWavePlanV1[], now: Date): Promise<NonNullable<CampaignSendState>> {
    return (await this.step(appId, messageId, { type: 'ScheduleCampaignSend', appId, campaignId, messageId, waves }, now, messageId)).state!;
  }

  /** The wave's run if this caller won it; null if it is not due, held by a live run, or finished. */
  async claim(view: Pick<CampaignSendDoc, 'appId' | 'campaignId' | 'messageId' | 'wave' | 'dueAt'>, leaseMs: number, now: Date): Promise<WaveClaim | null> {
    const { appId, messageId, wave } = view;
    const command: CampaignSendCommand = { type: 'ClaimCampaignWave', wave, leaseMs };
    let events;
    try {
      ({ events } = await this.step(appId, messageId, command, now));
    } catch (err) {
      if (!(err instanceof CampaignSendNotFoundError)) throw err;
      // A send recorded before sends had streams: its view is all there is of it.
      await this.schedule(appId, view.campaignId, messageId, [{ wave, dueAt: new Date(view.dueAt).toISOString() }], now);
      ({ events } = await this.step(appId, messageId, command, now));
    }
    const won = events.find((e) => e.type === 'CampaignWaveClaimed');
    return won ? { appId, messageId, wave, run: won.data.run } : null;
  }

  async renew(claim: WaveClaim, leaseMs: number, now: Date): Promise<void> {
    await this.step(claim.appId, claim.messageId, { type: 'RenewCampaignWaveLease', wave: claim.wave, run: claim.run, leaseMs }, now);
  }

  async check(claim: WaveClaim): Promise<WaveCheck> {
    const { state } = await this.exec.load(campaignSendDecider, campaignSendStream(claim.appId, claim.messageId));
    const w = state?.waves.find((x) => x.wave === claim.wave);
    if (!w || w.status !== 'sending' || w.run !== claim.run) return 'lost';
    return state?.cancelledAt ? 'cancelled' : 'go';
  }

  async recordTargeted(claim: WaveClaim, targeted: number, skipped: Record<string, number>, now: Date): Promise<void> {
    await this.step(claim.appId, claim.messageId, { type: 'RecordCampaignWaveTargeted', wave: claim.wave, run: claim.run, targeted, skipped }, now);
  }

  async fail(claim: WaveClaim, error: string, now: Date): Promise<void> {
    await this.step(claim.appId, claim.messageId, { type: 'FailCampaignWave', wave: claim.wave, run: claim.run, error }, now);
  }

  /** Cancels the campaign's send (see the decider for `deliveryFinished`); another campaign's message id is not found. */
  async cancel(appId: string, campaignId: string, messageId: string, deliveryFinished: number | undefined, now: Date): Promise<{ messageId: string; status: CampaignSendStatus }> {
    const { state } = await this.exec.load(campaignSendDecider, campaignSendStream(appId, messageId));
    if (!state || state.campaignId !== campaignId) throw new CampaignSendNotFoundError();
    const { state: after } = await this.step(appId, messageId, { type: 'CancelCampaignSend', deliveryFinished }, now);
    const status = campaignSendStatus(after!);
    // Pairs already handed to delivery are stopped there. Told on every cancel, so a retry after a crash here still tells it.
    if (status === 'cancelled') await this.tellDelivery(appId, messageId, now);
    return { messageId, status };
  }

  private async tellDelivery(appId: string, messageId: string, now: Date): Promise<void> {
    const command: CancelMessageCommand = { type: 'CancelMessage', appId, messageId, commandId: randomUUID(), issuedAt: now.toISOString() };
    await this.producer.send({ topic: this.topics.deliveryCommands, acks: -1, messages: [{ key: appId, value: JSON.stringify(command), headers: { 'command-type': command.type, 'app-id': appId } }] });
  }

  private async step(appId: string, messageId: string, command: CampaignSendCommand, now: Date, commandId: string = randomUUID()): Promise<StepResult<CampaignSendState, CampaignSendEvent>> {
    const result = await this.exec.execute(campaignSendDecider, campaignSendStream(appId, messageId), command, { appId, commandId, step: command.type, now });
    if (result.state) await this.views.writeSendView(viewOf(result.state), result.revisionBefore + result.events.length);
    return result;
  }
}

function viewOf(state: NonNullable<CampaignSendState>): Omit<CampaignSendDoc, '_id'>[] {
  return state.waves.map((w) => ({
    appId: state.appId,
    campaignId: state.campaignId,
    messageId: state.messageId,
    wave: w.wave,
    status: w.status,
    dueAt: new Date(w.dueAt),
    startedAt: w.startedAt ? new Date(w.startedAt) : null,
    finishedAt: w.finishedAt ? new Date(w.finishedAt) : null,
    leaseUntil: w.leaseUntil ? new Date(w.leaseUntil) : null,
    runs: w.run,
    targeted: w.targeted,
    skipped: w.skipped,
    error: w.error,
  }));
}
