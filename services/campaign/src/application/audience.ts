import type { AppRecord, CampaignDefinitionV1, DevicePolicy, SealedTokenV1 } from '@pushledger/contracts';
import type { DeviceView } from '@pushledger/domain';

export interface AudiencePair {
  /** Its token masked where the read models keep it sealed. */
  device: DeviceView;
  /** The token sealed with the device's key, where the read models keep it so: what the sender passes on. */
  sealedToken?: SealedTokenV1 | null;
  user: { id: string; traits: Record<string, unknown> } | null;
}

export interface AudiencePlan {
  /** Eligible, policy-chosen (user, device) pairs, streamed with a cursor. */
  pairs: AsyncIterable<AudiencePair>;
  /** Excluded devices by reason; complete once `pairs` is exhausted. */
  skipped(): Record<string, number>;
}

/** Who a broadcast reaches: the read models' targeting query behind a seam the campaign runner owns. */
export interface AudienceSource {
  plan(app: AppRecord, audience: CampaignDefinitionV1['audience'], options: { transactional: boolean; devicePolicy: DevicePolicy; topic?: string | null; now: Date }): Promise<AudiencePlan>;
}

export const AUDIENCE_SOURCE = Symbol('AUDIENCE_SOURCE');
