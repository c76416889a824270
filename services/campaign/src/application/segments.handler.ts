import { Inject, Injectable } from '@nestjs/common';
import type { PushledgerConfig } from '@pushledger/config';
import { CONFIG } from '@pushledger/platform';
import { deterministicUuid, pageInCreationOrder, type AppRecord, type SegmentListResult, type SegmentPreviewResult, type SegmentRequest, type SegmentResult } from '@pushledger/contracts';
import { ReadModels, SegmentStore, validateRules } from '@pushledger/read-models';

/**
 * The segment streams' owner (`segment-<appId>-<id>`): stores versions, answers the gateway's reads, and
 * previews a segment's audience from the read models. Rules are validated here too (SegmentRulesError).
 */
@Injectable()
export class SegmentsHandler {
  constructor(
    private readonly segments: SegmentStore,
    private readonly models: ReadModels,
    @Inject(CONFIG) private readonly config: PushledgerConfig,
  ) {}

  async handle(request: SegmentRequest, app: AppRecord, now = new Date()): Promise<SegmentResult | SegmentListResult | SegmentPreviewResult> {
    switch (request.type) {
      case 'CreateSegment': {
        // From the command id: a redelivered create answers the segment it made.
        const id = `seg_${deterministicUuid(`segment:${app.id}:${request.commandId}`).replace(/-/g, '').slice(0, 20)}`;
        return { segment: await this.segments.create(app.id, { name: request.name, rules: request.rules }, now, id) };
      }
      case 'UpdateSegment':
        return { segment: await this.segments.update(app.id, request.segmentId, { name: request.name, rules: request.rules }, now) };
      case 'GetSegment':
        return { segment: await this.segments.get(app.id, request.segmentId, request.version ?? undefined) };
      case 'ListSegments': {
        const { items, next } = pageInCreationOrder(await this.segments.list(app.id), request.page);
        return { segments: items, next };
      }
      case 'PreviewSegment': {
        const rules = 'segmentId' in request ? (await this.segments.get(app.id, request.segmentId))?.rules : request.rules;
        if (rules === undefined) return { preview: null };
        const estimate = request.estimate ? { budgetMs: this.config.segments.estimateBudgetMs } : undefined;
        return { preview: await this.models.preview(app.id, validateRules(rules), { now, staleAfterDays: app.settings.staleAfterDays }, request.sampleSize, estimate) };
      }
      default: {
        const _exhaustive: never = request;
        throw new Error(`unknown segment request ${(_exhaustive as { type: string }).type}`);
      }
    }
  }
}
