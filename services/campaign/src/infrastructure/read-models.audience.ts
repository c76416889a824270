import { sendableProviders, type AppRecord, type CampaignDefinitionV1, type DevicePolicy } from '@pushledger/contracts';
import { AudienceTarget, ReadModels, SegmentRulesError, SegmentStore, validateRules } from '@pushledger/read-models';
import { AudiencePlan, AudienceSource } from '../application/audience';
import { CampaignError } from '../application/campaign.runner';

/** Broadcast audiences from the read models: a stored segment, inline rules, or every user of the app. */
export class ReadModelsAudience implements AudienceSource {
  constructor(
    private readonly readModels: ReadModels,
    private readonly segments: SegmentStore,
    private readonly standIns: { fcm: boolean; apns: boolean; webpush: boolean },
  ) {}

  async plan(app: AppRecord, audience: CampaignDefinitionV1['audience'], options: { transactional: boolean; devicePolicy: DevicePolicy; topic?: string | null; now: Date }): Promise<AudiencePlan> {
    const stream = await this.readModels.targets(app.id, await this.target(app.id, audience), {
      transactional: options.transactional,
      devicePolicy: options.devicePolicy,
      topic: options.topic ?? null,
      appPolicy: app.settings.devicePolicy,
      staleAfterDays: app.settings.staleAfterDays,
      now: options.now,
      providers: sendableProviders(app, this.standIns),
    });
    return { pairs: stream, skipped: () => stream.stats.skipped as Record<string, number> };
  }

  private async target(appId: string, audience: CampaignDefinitionV1['audience']): Promise<AudienceTarget> {
    // A stored null can come back as a missing field.
    if (audience === null || audience === undefined) return { kind: 'everyone' };
    if ('segmentId' in audience) {
      const segment = await this.segments.get(appId, audience.segmentId);
      if (!segment) throw new CampaignError('not_found', `segment ${audience.segmentId} not found`);
      return { kind: 'segment', rules: segment.rules };
    }
    try {
      return { kind: 'segment', rules: validateRules(audience.rules, 'audience.rules') };
    } catch (err) {
      if (err instanceof SegmentRulesError) throw new CampaignError('validation_failed', err.message);
      throw err;
    }
  }
}
