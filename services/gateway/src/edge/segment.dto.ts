import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsDefined, IsOptional, IsString, Matches, MaxLength, ValidateIf } from 'class-validator';

const RULES_EXAMPLE = { all: [{ trait: 'plan', op: 'eq', value: 'pro' }, { device: 'appVersion', op: 'semver_lt', value: '2.0.0' }, { eligibleDevice: true }] };
const RULES_DOC =
  'A node is {"all":[nodes]}, {"any":[nodes]}, {"not":node}, {"trait":name,"op","value"?}, {"device":attribute,"op","value"?} (true when one of the user\'s devices matches) or {"eligibleDevice":true}. ' +
  'Operators: eq ne gt gte lt lte in exists contains semver_lt semver_gte within_days older_than_days. Device attributes: platform provider model osVersion appVersion locale timezone pushEnabled lastSeenAt registeredAt status lastStatus.';

export class SaveSegmentDto {
  @ApiPropertyOptional({ example: 'Pro users on old app versions' })
  @IsOptional()
  @ValidateIf((_, v) => v !== null)
  @IsString()
  @MaxLength(200)
  name?: string | null;

  @ApiProperty({ description: RULES_DOC, example: RULES_EXAMPLE })
  @IsDefined()
  rules!: unknown;
}

export class PreviewSegmentDto {
  @ApiPropertyOptional({ description: `Rules to try (or segmentId). ${RULES_DOC}`, example: RULES_EXAMPLE })
  @IsOptional()
  rules?: unknown;

  @ApiPropertyOptional({ description: 'A stored segment to preview instead of inline rules (its latest version).' })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_]{1,64}$/, { message: 'segmentId must be a segment id' })
  segmentId?: string;

  @ApiPropertyOptional({
    description:
      'true: a quick count for a live builder. Users are spread over the read models\' partitions by a hash; partitions are counted until they hold enough matches or `SEGMENT_ESTIMATE_BUDGET_MS` is spent, and the count is scaled from them. The answer then has `estimate: { partitionsCounted, partitions, margin }` (± margin at 95%); without it the count is exact.',
    default: false,
  })
  @IsOptional()
  @IsBoolean()
  estimate?: boolean;
}
