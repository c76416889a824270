import { Type } from 'class-transformer';
import { IsBoolean, IsDefined, IsIn, IsInt, IsNotEmpty, IsObject, IsOptional, IsString, Matches, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { DEVICE_POLICIES, DevicePolicy } from '@pushledger/contracts';

export class AppFcmDto {
  @IsString()
  @Matches(/^[a-z][a-z0-9-]{3,62}$/, { message: 'projectId must be a Firebase project id (lowercase letters, digits, hyphens)' })
  projectId!: string;

  @IsOptional()
  @IsObject()
  serviceAccount?: Record<string, unknown> | null;
}

export class AppSettingsDto {
  @IsOptional()
  @IsIn(DEVICE_POLICIES as DevicePolicy[])
  devicePolicy?: DevicePolicy;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(3650)
  staleAfterDays?: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  maxDevicesPerUser?: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  rateLimitPerSecond?: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100_000_000)
  fcmQuotaPerMinute?: number;

  @IsOptional()
  @IsBoolean()
  identityVerification?: boolean;
}

export class CreateAppDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  name!: string;

  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => AppFcmDto)
  fcm?: AppFcmDto;

  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => AppSettingsDto)
  settings?: AppSettingsDto;
}

export class UpdateAppDto {
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => AppSettingsDto)
  settings!: AppSettingsDto;
}

/** Grace: the replaced keys keep working this long (at most 30 days). */
export class RotateKeysDto {
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(30 * 24 * 3600)
  graceSeconds?: number;
}
