import { canonicalToken } from '@pushledger/contracts';
import { IsBoolean, IsIn, IsNotEmpty, IsObject, IsOptional, IsString, Matches, MaxLength, ValidateIf } from 'class-validator';

export const ID = /^[A-Za-z0-9._:@+-]{1,256}$/;
export const ID_MESSAGE = '$property must be 1 to 256 characters of letters, digits and . _ : @ + -';

export class RegisterDeviceDto {
  @IsOptional()
  @IsString()
  @Matches(ID, { message: ID_MESSAGE })
  deviceId?: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(4096)
  token!: string;

  /** `webpush`: the token is the browser's PushSubscription as JSON (checked in the controller). */
  @IsIn(['fcm', 'apns', 'webpush'])
  provider!: 'fcm' | 'apns' | 'webpush';

  @IsIn(['android', 'ios', 'web'])
  platform!: 'android' | 'ios' | 'web';

  @IsOptional() @IsString() @MaxLength(128) model?: string;
  @IsOptional() @IsString() @MaxLength(64) osVersion?: string;
  @IsOptional() @IsString() @MaxLength(64) appVersion?: string;
  @IsOptional() @IsString() @MaxLength(64) locale?: string;
  @IsOptional() @IsString() @MaxLength(64) timezone?: string;

  @IsOptional()
  @IsBoolean()
  pushEnabled?: boolean;

  @IsOptional()
  @IsString()
  @Matches(ID, { message: ID_MESSAGE })
  userId?: string;

  /** With identityVerification on, a write key naming userId proves it: hex HMAC-SHA256(userId, identitySecret). */
  @IsOptional()
  @IsString()
  @MaxLength(128)
  userHash?: string;
}

export class DeviceRefDto {
  @ValidateIf((o: DeviceRefDto) => o.token === undefined)
  @IsString()
  @Matches(ID, { message: ID_MESSAGE })
  deviceId?: string;

  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(4096)
  token?: string;
}

export class IdentifyDto extends DeviceRefDto {
  @IsString()
  @Matches(ID, { message: ID_MESSAGE })
  userId!: string;

  /** With identityVerification on, a write key naming userId proves it: hex HMAC-SHA256(userId, identitySecret). */
  @IsOptional()
  @IsString()
  @MaxLength(128)
  userHash?: string;

  @IsOptional()
  @IsObject()
  traits?: Record<string, unknown>;
}

export class LogoutDto extends DeviceRefDto {}

/** A token is looked up from a body: tokens never go in URLs (access logs, proxies, browser history). */
export class LookupDeviceDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(4096)
  token!: string;
}

/** A web push subscription as a reference names the token its registration stored: the canonical JSON. */
export function deviceRef(dto: DeviceRefDto): { deviceId: string } | { token: string } {
  return dto.deviceId !== undefined ? { deviceId: dto.deviceId } : { token: canonicalToken(dto.token!) };
}
