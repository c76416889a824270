import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsNotEmpty, IsObject, IsOptional, IsString, MaxLength, ValidateNested } from 'class-validator';
import { MAX_TOKEN } from './compat-common';

export class MasivoDeviceInfoDto {
  @ApiProperty({ enum: ['android', 'ios', 'web'] })
  @IsIn(['android', 'ios', 'web'])
  platform!: 'android' | 'ios' | 'web';

  @ApiPropertyOptional({ maxLength: 128, example: 'Pixel 8' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  model?: string;

  @ApiPropertyOptional({ maxLength: 64, example: '14' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  osVersion?: string;
}

export class MasivoDeviceTokenDto {
  @ApiProperty({ description: 'the FCM registration token', maxLength: MAX_TOKEN })
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_TOKEN)
  device_token!: string;

  @ApiProperty({ type: MasivoDeviceInfoDto })
  @IsObject()
  @ValidateNested()
  @Type(() => MasivoDeviceInfoDto)
  device_info!: MasivoDeviceInfoDto;
}
