/**
 * A campaign send's process: one stream per message (`campaignsend-<appId>-<messageId>`), owned by the
 * campaign service. A whole broadcast is one wave (`wave: null`); a local-time broadcast has one per
 * time-zone band (`wave`: its due instant). Claims, leases, wave counts and cancellation are facts here,
 * appended under the stream's revision, so each wave is taken up by one runner at a time across replicas.
 */
export const campaignSendStream = (appId: string, messageId: string): string => `campaignsend-${appId}-${messageId}`;

export interface CampaignWavePlanV1 {
  wave: string | null;
  dueAt: string;
}

export type CampaignSendEvent =
  | { type: 'CampaignSendScheduled'; data: { appId: string; campaignId: string; messageId: string; waves: CampaignWavePlanV1[]; at: string } }
  | { type: 'CampaignWaveClaimed'; data: { wave: string | null; run: number; leaseUntil: string; at: string } }
  | { type: 'CampaignWaveLeaseRenewed'; data: { wave: string | null; run: number; leaseUntil: string } }
  | { type: 'CampaignWaveTargeted'; data: { wave: string | null; run: number; targeted: number; skipped: Record<string, number>; at: string } }
  | { type: 'CampaignWaveFailed'; data: { wave: string | null; run: number; error: string; at: string } }
  | { type: 'CampaignSendCancelled'; data: { at: string } };

export type CampaignWaveStatus = 'scheduled' | 'sending' | 'sent' | 'failed' | 'cancelled';
export type CampaignSendStatus = CampaignWaveStatus;
