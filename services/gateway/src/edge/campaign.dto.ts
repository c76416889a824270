import { Type } from 'class-transformer';
import { IsBoolean, IsDefined, IsIn, IsISO8601, IsNotEmpty, IsObject, IsOptional, IsString, IsUrl, Matches, MaxLength, ValidateNested } from 'class-validator';
import { DEVICE_POLICIES, DevicePolicy } from '@pushledger/contracts';
import { NotificationExtrasDto, PushOptionsDto, topicProperty } from './push-content';
import { ID, ID_MESSAGE } from './device.dto';
import { PushToDto } from './push.dto';

export class CampaignContentDto extends NotificationExtrasDto {
  /** true: a data-only (silent) campaign: no title, body, image, sound or badge. */
  @IsOptional() @IsBoolean() dataOnly?: boolean;
  @IsOptional() @IsString() @MaxLength(1000) title?: string;
  @IsOptional() @IsString() @MaxLength(4000) body?: string;
  @IsOptional() @IsUrl({ protocols: ['https', 'http'], require_tld: false }) imageUrl?: string;
  @IsOptional() @IsObject() data?: Record<string, string>;
  @IsOptional() @IsObject() locales?: Record<string, { title?: string; body?: string }>;
  @IsOptional() @IsObject() @ValidateNested() @Type(() => PushOptionsDto) options?: PushOptionsDto;
}

export class TriggerToDto {
  @IsIn(['user', 'token', 'device']) kind!: 'user' | 'token' | 'device';
  @IsOptional() @IsString() @IsNotEmpty() @MaxLength(128) property?: string;
}

export class TriggerDto {
  @IsString() @IsNotEmpty() @MaxLength(200) event!: string;
  @IsOptional() @IsObject() where?: Record<string, string | number | boolean>;
  @IsOptional() @ValidateNested() @Type(() => TriggerToDto) to?: TriggerToDto;
}

export class ScheduleDto {
  @IsISO8601() at!: string;
  @IsOptional() @IsBoolean() localTime?: boolean;
}

export class AudienceDto {
  @IsOptional() @IsString() @Matches(/^[A-Za-z0-9_-]{1,64}$/) segmentId?: string;
  @IsOptional() @IsObject() rules?: Record<string, unknown>;
}

export class CreateCampaignDto {
  @IsString() @IsNotEmpty() @MaxLength(200) name!: string;
  @IsIn(['broadcast', 'triggered', 'transactional']) kind!: 'broadcast' | 'triggered' | 'transactional';
  @IsDefined() @IsObject() @ValidateNested() @Type(() => CampaignContentDto) content!: CampaignContentDto;
  @IsOptional() @ValidateNested() @Type(() => AudienceDto) audience?: AudienceDto;
  @IsOptional() @ValidateNested() @Type(() => TriggerDto) trigger?: TriggerDto;
  @IsOptional() @ValidateNested() @Type(() => ScheduleDto) schedule?: ScheduleDto;
  @IsOptional() @IsBoolean() transactional?: boolean;
  @IsOptional() @IsIn(DEVICE_POLICIES as DevicePolicy[]) devicePolicy?: DevicePolicy;
  @IsOptional() @IsString() @topicProperty() topic?: string;
}

export class PreviewCampaignDto {
  @IsDefined() @IsObject() @ValidateNested() @Type(() => CampaignContentDto) content!: CampaignContentDto;
  @IsString() @Matches(ID, { message: ID_MESSAGE }) userId!: string;
}

export class SendCampaignDto {
  @IsOptional() @ValidateNested() @Type(() => PushToDto) to?: PushToDto;
  @IsOptional() @IsObject() properties?: Record<string, unknown>;
  @IsOptional() @IsString() @IsNotEmpty() @MaxLength(255) idempotencyKey?: string;
}
