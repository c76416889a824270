import { Type } from 'class-transformer';
import { IsBoolean, IsDefined, IsIn, IsNotEmpty, IsObject, IsOptional, IsString, IsUrl, Matches, MaxLength, ValidateNested } from 'class-validator';
import { DEVICE_POLICIES, DevicePolicy } from '@pushledger/contracts';
import { ID } from './device.dto';
import { NotificationExtrasDto, PushOptionsDto, topicProperty } from './push-content';


export class PushToDto {
  @IsOptional() @IsString() @Matches(ID, { message: 'to.userId must be 1 to 256 characters of letters, digits and . _ : @ + -' }) userId?: string;
  @IsOptional() @IsString() @Matches(ID, { message: 'to.deviceId must be 1 to 256 characters of letters, digits and . _ : @ + -' }) deviceId?: string;
  @IsOptional() @IsString() @IsNotEmpty() @MaxLength(4096) token?: string;
}

export class NotificationDto extends NotificationExtrasDto {
  @IsOptional() @IsString() @MaxLength(1000) title?: string;
  @IsOptional() @IsString() @MaxLength(4000) body?: string;
  @IsOptional() @IsUrl({ protocols: ['https', 'http'], require_tld: false }) @MaxLength(2048) imageUrl?: string;
}

export class PushDto {
  @IsDefined() @IsObject() @ValidateNested() @Type(() => PushToDto) to!: PushToDto;
  /** Absent: a data-only (silent) push. */
  @IsOptional() @IsObject() @ValidateNested() @Type(() => NotificationDto) notification?: NotificationDto;
  @IsOptional() @IsObject() data?: Record<string, unknown>;
  @IsOptional() @IsObject() @ValidateNested() @Type(() => PushOptionsDto) options?: PushOptionsDto;
  @IsOptional() @IsString() @topicProperty() topic?: string;
  @IsOptional() @IsBoolean() transactional?: boolean;
  @IsOptional() @IsIn(DEVICE_POLICIES as DevicePolicy[]) devicePolicy?: DevicePolicy;
  @IsOptional() @IsString() @IsNotEmpty() @MaxLength(255) idempotencyKey?: string;
}

export class ReceiptDto {
  @IsString() @Matches(ID, { message: 'deviceId must be 1 to 256 characters of letters, digits and . _ : @ + -' }) deviceId!: string;
  @IsIn(['delivered', 'opened']) kind!: 'delivered' | 'opened';
  @IsOptional() @IsString() @Matches(/^\d{4}-\d\d-\d\dT/, { message: 'at must be an ISO-8601 time' }) at?: string;
}
