import type { CampaignWavePlanV1 } from '@pushledger/contracts';

export type CampaignSendCommand =
  | { type: 'ScheduleCampaignSend'; appId: string; campaignId: string; messageId: string; waves: CampaignWavePlanV1[] }
  | { type: 'ClaimCampaignWave'; wave: string | null; leaseMs: number }
  | { type: 'RenewCampaignWaveLease'; wave: string | null; run: number; leaseMs: number }
  | { type: 'RecordCampaignWaveTargeted'; wave: string | null; run: number; targeted: number; skipped: Record<string, number> }
  | { type: 'FailCampaignWave'; wave: string | null; run: number; error: string }
  | { type: 'CancelCampaignSend' };
