import type { CampaignSendEvent } from '@pushledger/contracts';
import { givenFor } from '../test/given';
import { APP, T0, after, minutes } from '../test/fixtures';
import { CampaignSendFinishedError, CampaignSendNotFoundError, CampaignWaveLeaseLostError, GIVE_UP_WAVE_AFTER_RUNS, campaignSendDecider, campaignSendStatus } from './campaign-send.decider';

const given = givenFor(campaignSendDecider);
const LEASE = minutes(1);
const iso = (d: Date) => d.toISOString();
const W1 = '2025-03-01T09:00:00.000Z';
const W2 = '2025-03-01T10:00:00.000Z';

const scheduled = (waves = [{ wave: null as string | null, dueAt: iso(T0) }]): CampaignSendEvent => ({ type: 'CampaignSendScheduled', data: { appId: APP, campaignId: 'cmp_1', messageId: 'msg_1', waves, at: iso(T0) } });
const claimed = (run: number, at: Date, wave: string | null = null): CampaignSendEvent => ({ type: 'CampaignWaveClaimed', data: { wave, run, leaseUntil: iso(after(LEASE, at)), at: iso(at) } });
const targeted = (run: number, at: Date, n: number, skipped: Record<string, number> = {}, wave: string | null = null): CampaignSendEvent => ({ type: 'CampaignWaveTargeted', data: { wave, run, targeted: n, skipped, at: iso(at) } });
const cancelled = (at: Date): CampaignSendEvent => ({ type: 'CampaignSendCancelled', data: { at: iso(at) } });

describe('campaign send decider', () => {
  it('schedules a send once; a retried request changes nothing', () => {
    const state = given([]).when({ type: 'ScheduleCampaignSend', appId: APP, campaignId: 'cmp_1', messageId: 'msg_1', waves: [{ wave: null, dueAt: iso(T0) }] }, T0).then([scheduled()]);
    expect(state && campaignSendStatus(state)).toBe('scheduled');
    given([scheduled()]).when({ type: 'ScheduleCampaignSend', appId: APP, campaignId: 'cmp_1', messageId: 'msg_1', waves: [{ wave: null, dueAt: iso(T0) }] }, T0).then([]);
  });

  it('claims a due wave with a lease; nobody else claims it while the lease runs', () => {
    given([scheduled()]).when({ type: 'ClaimCampaignWave', wave: null, leaseMs: LEASE }, T0).then([claimed(1, T0)]);
    given([scheduled(), claimed(1, T0)]).when({ type: 'ClaimCampaignWave', wave: null, leaseMs: LEASE }, after(LEASE - 1)).then([]);
  });

  it('does not claim a wave before it is due', () => {
    given([scheduled([{ wave: W1, dueAt: W1 }])]).when({ type: 'ClaimCampaignWave', wave: W1, leaseMs: LEASE }, T0).then([]);
  });

  it('takes a wave up again (next run) once its lease lapsed, and the old run can no longer renew or record', () => {
    const late = after(LEASE + 1);
    const history = [scheduled(), claimed(1, T0)];
    given(history).when({ type: 'ClaimCampaignWave', wave: null, leaseMs: LEASE }, late).then([claimed(2, late)]);
    given([...history, claimed(2, late)]).when({ type: 'RenewCampaignWaveLease', wave: null, run: 1, leaseMs: LEASE }, late).thenThrows(CampaignWaveLeaseLostError);
    given([...history, claimed(2, late)]).when({ type: 'RecordCampaignWaveTargeted', wave: null, run: 1, targeted: 5, skipped: {} }, late).thenThrows(CampaignWaveLeaseLostError);
  });

  it(`fails a wave whose runner stopped ${GIVE_UP_WAVE_AFTER_RUNS} times`, () => {
    const history: CampaignSendEvent[] = [scheduled()];
    let at = T0;
    for (let run = 1; run <= GIVE_UP_WAVE_AFTER_RUNS; run++) {
      history.push(claimed(run, at));
      at = after(LEASE + 1, at);
    }
    const state = given(history)
      .when({ type: 'ClaimCampaignWave', wave: null, leaseMs: LEASE }, at)
      .then([{ type: 'CampaignWaveFailed', data: { wave: null, run: GIVE_UP_WAVE_AFTER_RUNS, error: `its runner stopped ${GIVE_UP_WAVE_AFTER_RUNS} times before finishing`, at: iso(at) } }]);
    expect(state && campaignSendStatus(state)).toBe('failed');
  });

  it('counts each wave once: a second record of a finished wave is refused', () => {
    const history = [scheduled(), claimed(1, T0), targeted(1, after(1000), 3, { unsubscribed: 1 })];
    const state = given(history).state;
    expect(state && campaignSendStatus(state)).toBe('sent');
    expect(state?.waves[0]).toMatchObject({ targeted: 3, skipped: { unsubscribed: 1 } });
    given(history).when({ type: 'RecordCampaignWaveTargeted', wave: null, run: 1, targeted: 3, skipped: {} }, after(2000)).thenThrows(CampaignWaveLeaseLostError);
  });

  it('a local-time send is sending until its last wave is targeted', () => {
    const waves = [{ wave: W1, dueAt: W1 }, { wave: W2, dueAt: W2 }];
    const t1 = new Date(W1);
    const state = given([scheduled(waves), claimed(1, t1, W1), targeted(1, after(1000, t1), 2, {}, W1)]).state;
    expect(state && campaignSendStatus(state)).toBe('sending');
    given([scheduled(waves)]).when({ type: 'ClaimCampaignWave', wave: W2, leaseMs: LEASE }, t1).then([]);
  });

  describe('cancelling', () => {
    it('cancels a scheduled send: its waves are never claimed', () => {
      const state = given([scheduled()]).when({ type: 'CancelCampaignSend' }, T0).then([cancelled(T0)]);
      expect(state && campaignSendStatus(state)).toBe('cancelled');
      expect(state?.waves[0].status).toBe('cancelled');
      given([scheduled(), cancelled(T0)]).when({ type: 'ClaimCampaignWave', wave: null, leaseMs: LEASE }, after(1)).then([]);
    });

    it('cancels a running send: the running wave records what it handed over, and ends cancelled', () => {
      const history = [scheduled(), claimed(1, T0), cancelled(after(500))];
      given(history).when({ type: 'RenewCampaignWaveLease', wave: null, run: 1, leaseMs: LEASE }, after(600)).then([{ type: 'CampaignWaveLeaseRenewed', data: { wave: null, run: 1, leaseUntil: iso(after(LEASE + 600)) } }]);
      const state = given(history).when({ type: 'RecordCampaignWaveTargeted', wave: null, run: 1, targeted: 500, skipped: { cancelled: 19500 } }, after(700)).then([targeted(1, after(700), 500, { cancelled: 19500 })]);
      expect(state?.waves[0]).toMatchObject({ status: 'cancelled', targeted: 500, skipped: { cancelled: 19500 } });
    });

    it('a second cancel changes nothing; a finished send cannot be cancelled; an unknown one is not found', () => {
      given([scheduled(), cancelled(T0)]).when({ type: 'CancelCampaignSend' }, after(1)).then([]);
      given([scheduled(), claimed(1, T0), targeted(1, after(1), 1)]).when({ type: 'CancelCampaignSend' }, after(2)).thenThrows(CampaignSendFinishedError);
      given([]).when({ type: 'CancelCampaignSend' }, T0).thenThrows(CampaignSendNotFoundError);
    });

    it('a send whose waves are all targeted is cancelled while delivery has pairs left, and is finished once it has none', () => {
      const sent = [scheduled(), claimed(1, T0), targeted(1, after(1), 300)];
      const state = given(sent).when({ type: 'CancelCampaignSend', deliveryFinished: 120 }, after(2)).then([cancelled(after(2))]);
      expect(state && campaignSendStatus(state)).toBe('cancelled');
      expect(state?.waves[0]).toMatchObject({ status: 'sent', targeted: 300 });
      given(sent).when({ type: 'CancelCampaignSend', deliveryFinished: 0 }, after(2)).then([cancelled(after(2))]);
      given(sent).when({ type: 'CancelCampaignSend', deliveryFinished: 300 }, after(2)).thenThrows(CampaignSendFinishedError);
      given([scheduled(), claimed(1, T0), targeted(1, after(1), 0)]).when({ type: 'CancelCampaignSend', deliveryFinished: 0 }, after(2)).thenThrows(CampaignSendFinishedError);
    });
  });
});
