import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsNotEmpty, IsObject, IsOptional, IsString, MaxLength, Min, ValidateNested } from 'class-validator';
import { MAX_TOKEN } from './compat-common';

/** The device attributes Customer.io's SDKs send that the registry keeps; others are dropped. */
export class CioDeviceAttributesDto {
  @ApiPropertyOptional({ maxLength: 64, example: '17.2' }) @IsOptional() @IsString() @MaxLength(64) device_os?: string;
  @ApiPropertyOptional({ maxLength: 128, example: 'iPhone15,2' }) @IsOptional() @IsString() @MaxLength(128) device_model?: string;
  @ApiPropertyOptional({ maxLength: 64, example: '2.3.0' }) @IsOptional() @IsString() @MaxLength(64) app_version?: string;
  @ApiPropertyOptional({ maxLength: 64, example: 'en-GB' }) @IsOptional() @IsString() @MaxLength(64) device_locale?: string;

  @ApiPropertyOptional({ enum: ['true', 'false'], description: 'a string, as the SDKs send it (booleans accepted)' })
  @IsOptional()
  @IsIn(['true', 'false', true, false])
  push_enabled?: 'true' | 'false' | boolean;

  @ApiPropertyOptional({ description: 'managed by Pushledger from delivery outcomes; accepted and ignored' })
  @IsOptional()
  @IsString()
  @MaxLength(32)
  _last_status?: string;
}

export class CioDeviceDto {
  @ApiProperty({ description: 'the device token', maxLength: MAX_TOKEN })
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_TOKEN)
  id!: string;

  @ApiProperty({ enum: ['ios', 'android'] })
  @IsIn(['ios', 'android'])
  platform!: 'ios' | 'android';

  @ApiPropertyOptional({ description: 'unix seconds; accepted, the registry records its own time' })
  @IsOptional()
  @IsInt()
  @Min(0)
  last_used?: number;

  @ApiPropertyOptional({ type: CioDeviceAttributesDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => CioDeviceAttributesDto)
  attributes?: CioDeviceAttributesDto;
}

export class CioPutDeviceDto {
  @ApiProperty({ type: CioDeviceDto })
  @IsObject()
  @ValidateNested()
  @Type(() => CioDeviceDto)
  device!: CioDeviceDto;
}
