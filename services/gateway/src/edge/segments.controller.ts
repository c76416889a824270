import { Body, Controller, Get, HttpCode, Param, Post, Put, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { randomUUID } from 'crypto';
import type { SegmentListResult, SegmentPreviewResult, SegmentRequest, SegmentResult, SegmentV1 } from '@pushledger/contracts';
import { SegmentRulesError, validateRules } from '@pushledger/read-models';
import { OwnerClient } from '../infrastructure/owner.client';
import { Access, Caller, CurrentCaller } from './auth/access';
import { ApiError } from './http/api-error';
import { ApiPaged, creationCursor, linkNext, MAX_PAGE, pageLimit } from './http/paging';
import { PreviewSegmentDto, SaveSegmentDto } from './segment.dto';

const PREVIEW_SAMPLE = 20;

const present = (s: SegmentV1) => ({ id: s.id, appId: s.appId, name: s.name, version: s.version, rules: s.rules, createdAt: s.createdAt, updatedAt: s.updatedAt });

/** Rules are checked here, before anything is sent: a 400 names the bad part (`rules.all[2].op`), in the API's one error shape. */
function checkRules(rules: unknown): void {
  try {
    validateRules(rules);
  } catch (err) {
    if (err instanceof SegmentRulesError) throw new ApiError(400, 'validation_failed', err.message, err.issues.map((i) => ({ field: i.path, reason: i.reason })));
    throw err;
  }
}

/** Segments are streams of the campaign service (`segment-<appId>-<id>`): saves are its commands, reads its queries. */
@ApiTags('Segments')
@Controller('v1/segments')
@Access('server')
export class SegmentsController {
  constructor(private readonly owners: OwnerClient) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Store a segment (version 1)' })
  async create(@CurrentCaller() caller: Caller, @Body() dto: SaveSegmentDto) {
    checkRules(dto.rules);
    const { segment } = await this.ask<SegmentResult>(caller, { type: 'CreateSegment', name: dto.name ?? null, rules: dto.rules });
    return present(segment!);
  }

  @Get()
  @ApiOperation({
    summary: "The app's segments, each at its latest version, oldest first, paged",
    description: `Without \`limit\` a page holds up to ${MAX_PAGE} segments; when more follow, \`Link: </v1/segments?limit=N&after=CURSOR>; rel="next"\`.`,
  })
  @ApiPaged('segments', MAX_PAGE)
  async list(@CurrentCaller() caller: Caller, @Query('limit') limitParam: string | undefined, @Query('after') afterParam: string | undefined, @Res({ passthrough: true }) res: Response) {
    const limit = pageLimit(limitParam, MAX_PAGE);
    const page = await this.ask<SegmentListResult>(caller, { type: 'ListSegments', page: { limit, after: creationCursor(afterParam) } });
    linkNext(res, '/v1/segments', limit, page.next ?? null);
    return page.segments.map(present);
  }

  @Post('preview')
  @HttpCode(200)
  @ApiOperation({ summary: 'How many users match, and up to 20 of them', description: 'Read from the read models (eventually consistent). Erased users never match. Exact unless `estimate: true` is asked for.' })
  async preview(@CurrentCaller() caller: Caller, @Body() dto: PreviewSegmentDto) {
    if ((dto.rules === undefined) === (dto.segmentId === undefined)) throw ApiError.validation('rules', 'give either rules or segmentId');
    if (dto.rules !== undefined) checkRules(dto.rules);
    const target = dto.segmentId !== undefined ? { segmentId: dto.segmentId } : { rules: dto.rules };
    const { preview } = await this.ask<SegmentPreviewResult>(caller, { type: 'PreviewSegment', sampleSize: PREVIEW_SAMPLE, estimate: dto.estimate === true, ...target });
    if (!preview) throw ApiError.notFound('segment');
    return preview;
  }

  @Put(':segmentId')
  @ApiOperation({ summary: 'Save a new version of a segment (same id)' })
  async update(@CurrentCaller() caller: Caller, @Param('segmentId') id: string, @Body() dto: SaveSegmentDto) {
    checkRules(dto.rules);
    const { segment } = await this.ask<SegmentResult>(caller, { type: 'UpdateSegment', segmentId: id, name: dto.name, rules: dto.rules });
    if (!segment) throw ApiError.notFound('segment');
    return present(segment);
  }

  @Get(':segmentId')
  @ApiOperation({ summary: 'The latest version of a segment, or ?version=n' })
  async get(@CurrentCaller() caller: Caller, @Param('segmentId') id: string, @Query('version') version?: string) {
    if (version !== undefined && !/^[1-9]\d{0,8}$/.test(version)) throw ApiError.validation('version', 'must be a positive integer');
    const { segment } = await this.ask<SegmentResult>(caller, { type: 'GetSegment', segmentId: id, version: version === undefined ? null : Number(version) });
    if (!segment) throw ApiError.notFound('segment');
    return present(segment);
  }

  private ask<R>(caller: Caller, request: DistributiveOmit<SegmentRequest, 'commandId' | 'appId' | 'issuedAt'>): Promise<R> {
    return this.owners.segments<R>({ ...request, commandId: randomUUID(), appId: caller.app.id, issuedAt: new Date().toISOString() } as SegmentRequest);
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
