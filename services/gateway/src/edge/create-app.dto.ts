import { Type } from 'class-transformer';
import { IsBoolean, IsDefined, IsIn, IsInt, IsNotEmpty, IsObject, IsOptional, IsString, Matches, Max, MaxLength, Min, ValidateIf, ValidateNested } from 'class-validator';
import { DEVICE_POLICIES, DevicePolicy } from '@pushledger/contracts';

export class AppFcmDto {
  @IsString()
  @Matches(/^[a-z][a-z0-9-]{3,62}$/, { message: 'projectId must be a Firebase project id (lowercase letters, digits, hyphens)' })
  projectId!: string;

  @IsOptional()
  @IsObject()
  serviceAccount?: Record<string, unknown> | null;
}

/** Token-based APNs auth: the .p8 key (ES256) from Apple's developer account, its key id, the team and the app's bundle id. */
export class AppApnsDto {
  @IsString()
  @Matches(/^[A-Z0-9]{10}$/, { message: 'teamId must be the 10-character Apple team id' })
  teamId!: string;

  @IsString()
  @Matches(/^[A-Z0-9]{10}$/, { message: 'keyId must be the 10-character key id of the .p8 key' })
  keyId!: string;

  @IsString()
  @MaxLength(155)
  @Matches(/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/, { message: 'bundleId must be a bundle id such as com.example.app' })
  bundleId!: string;

  @IsString()
  @MaxLength(4096)
  @Matches(/-----BEGIN PRIVATE KEY-----/, { message: 'privateKey must be the .p8 file (PEM, BEGIN PRIVATE KEY)' })
  privateKey!: string;

  @IsBoolean()
  production!: boolean;
}

/** VAPID (RFC 8292): the app's P-256 key pair as `web-push generate-vapid-keys` prints it, and the contact it signs as. */
export class AppWebpushDto {
  @IsString()
  @MaxLength(512)
  @Matches(/^(mailto:[^\s@]+@[^\s@]+|https:\/\/[^\s/]+\S*)$/, { message: 'subject must be a mailto: address or an https URL' })
  subject!: string;

  @IsString()
  @Matches(/^[A-Za-z0-9_-]{87}$/, { message: 'publicKey must be the uncompressed P-256 public key, base64url (87 characters)' })
  publicKey!: string;

  @IsString()
  @Matches(/^[A-Za-z0-9_-]{43}$/, { message: 'privateKey must be the 32-byte P-256 private key, base64url (43 characters)' })
  privateKey!: string;
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
  @Type(() => AppApnsDto)
  apns?: AppApnsDto | null;

  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => AppWebpushDto)
  webpush?: AppWebpushDto | null;

  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => AppSettingsDto)
  settings?: AppSettingsDto;
}

/** At least one of `settings`, `apns` and `webpush` (null removes that provider's credentials). */
export class UpdateAppDto {
  @ValidateIf((o: UpdateAppDto) => (o.apns === undefined && o.webpush === undefined) || o.settings !== undefined)
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => AppSettingsDto)
  settings?: AppSettingsDto;

  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => AppApnsDto)
  apns?: AppApnsDto | null;

  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => AppWebpushDto)
  webpush?: AppWebpushDto | null;
}

/** Grace: the replaced keys keep working this long (at most 30 days). */
export class RotateKeysDto {
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(30 * 24 * 3600)
  graceSeconds?: number;
}
