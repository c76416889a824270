import { Body, Controller, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ReadModels, SegmentRulesError, SegmentStore, validateRules, type SegmentRecord } from '@pushledger/read-models';
import { Access, Caller, CurrentCaller } from '../auth/access';
import { ApiError } from '../http/api-error';
import { PreviewSegmentDto, SaveSegmentDto } from './segment.dto';

const PREVIEW_SAMPLE = 20;

const present = (s: SegmentRecord) => ({ id: s.id, appId: s.appId, name: s.name, version: s.version, rules: s.rules, createdAt: s.createdAt, updatedAt: s.updatedAt });

/** A 400 that names the bad part of the rules (`rules.all[2].op`), in the API's one error shape. */
async function rulesOr400<T>(run: () => Promise<T> | T): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof SegmentRulesError) {
      throw new ApiError(400, 'validation_failed', err.message, err.issues.map((i) => ({ field: i.path, reason: i.reason })));
    }
    throw err;
  }
}

@ApiTags('Segments')
@Controller('v1/segments')
@Access('server')
export class SegmentsController {
  constructor(
    private readonly segments: SegmentStore,
    private readonly readModels: ReadModels,
  ) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Store a segment (version 1)' })
  async create(@CurrentCaller() caller: Caller, @Body() dto: SaveSegmentDto) {
    return present(await rulesOr400(() => this.segments.create(caller.app.id, { name: dto.name, rules: dto.rules })));
  }

  @Post('preview')
  @HttpCode(200)
  @ApiOperation({ summary: 'How many users match, and up to 20 of them', description: 'Read from the read models (eventually consistent). Erased users never match.' })
  async preview(@CurrentCaller() caller: Caller, @Body() dto: PreviewSegmentDto) {
    if ((dto.rules === undefined) === (dto.segmentId === undefined)) throw ApiError.validation('rules', 'give either rules or segmentId');
    let rules: unknown = dto.rules;
    if (dto.segmentId !== undefined) {
      const stored = await this.segments.get(caller.app.id, dto.segmentId);
      if (!stored) throw ApiError.notFound('segment');
      rules = stored.rules;
    }
    const valid = await rulesOr400(() => validateRules(rules));
    return this.readModels.preview(caller.app.id, valid, { now: new Date(), staleAfterDays: caller.app.settings.staleAfterDays }, PREVIEW_SAMPLE);
  }

  @Put(':segmentId')
  @ApiOperation({ summary: 'Save a new version of a segment (same id)' })
  async update(@CurrentCaller() caller: Caller, @Param('segmentId') id: string, @Body() dto: SaveSegmentDto) {
    const saved = await rulesOr400(() => this.segments.update(caller.app.id, id, { name: dto.name, rules: dto.rules }));
    if (!saved) throw ApiError.notFound('segment');
    return present(saved);
  }

  @Get(':segmentId')
  @ApiOperation({ summary: 'The latest version of a segment, or ?version=n' })
  async get(@CurrentCaller() caller: Caller, @Param('segmentId') id: string, @Query('version') version?: string) {
    if (version !== undefined && !/^[1-9]\d{0,8}$/.test(version)) throw ApiError.validation('version', 'must be a positive integer');
    const found = await this.segments.get(caller.app.id, id, version === undefined ? undefined : Number(version));
    if (!found) throw ApiError.notFound('segment');
    return present(found);
  }
}
