import type { CampaignWavePlanV1 } from '@pushledger/contracts';

export type CampaignSendCommand =
  | { type: 'ScheduleCampaignSend'; appId: string; campaignId: string; messageId: string; waves: CampaignWavePlanV1[] }
  | { type: 'ClaimCampaignWave'; wave: string | null; leaseMs: number }
  | { type: 'RenewCampaignWaveLease'; wave: string | null; run: number; leaseMs: number }
  | { type: 'RecordCampaignWaveTargeted'; wave: string | null; run: number; targeted: number; skipped: Record<string, number> }
  | { type: 'FailCampaignWave'; wave: string | null; run: number; error: string }
  /**
   * `deliveryFinished`: the pairs delivery had finished (sent, bounced, invalidated, failed or skipped) when the
   * cancel was asked, as its ledger counted them; absent when unknown.
   */
  | { type: 'CancelCampaignSend'; deliveryFinished?: number };
