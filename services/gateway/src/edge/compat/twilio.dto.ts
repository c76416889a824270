import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsNotEmpty, IsObject, IsOptional, IsString, Matches, MaxLength, ValidateNested } from 'class-validator';
import { NotificationExtrasDto, PushOptionsDto, topicProperty } from '../push-content';
import { ID_MESSAGE, ID_PATTERN, MAX_TOKEN } from './compat-common';

export class TwilioRegistrationDto {
  @ApiPropertyOptional({ description: 'omitted: a user `comms_user_…` is created (or the device\'s current user kept)', example: 'comms_user_01h9krwprkeee8fzqspvwy6nq8' })
  @IsOptional()
  @IsString()
  @Matches(ID_PATTERN, { message: ID_MESSAGE })
  userId?: string;

  @ApiPropertyOptional({ description: 'with identityVerification on, a write key naming userId proves it: hex HMAC-SHA256(userId, identitySecret)' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  userHash?: string;

  @ApiProperty({ maxLength: MAX_TOKEN })
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_TOKEN)
  token!: string;

  @ApiProperty({ description: 'the name of the calling app', example: 'test_app' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  appName!: string;

  @ApiProperty({ enum: ['FCM', 'APNs'] })
  @IsIn(['FCM', 'APNs'])
  provider!: 'FCM' | 'APNs';
}

export class TwilioRecipientDto {
  @ApiProperty()
  @IsString()
  @Matches(ID_PATTERN, { message: ID_MESSAGE })
  userId!: string;
}

/** Twilio's title and body, plus Pushledger's `sound`, `badge`, `link` and `data` (see POST /v1/push). */
export class TwilioContentDto extends NotificationExtrasDto {
  @ApiProperty({ maxLength: 256 })
  @IsString()
  @MaxLength(256)
  title!: string;

  @ApiProperty({ maxLength: 4096 })
  @IsString()
  @MaxLength(4096)
  body!: string;

  @ApiPropertyOptional({ description: 'string values only', type: 'object', additionalProperties: { type: 'string' } })
  @IsOptional()
  @IsObject()
  data?: Record<string, unknown>;
}

export class TwilioSendDto {
  @ApiProperty({ type: [TwilioRecipientDto] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @ValidateNested({ each: true })
  @Type(() => TwilioRecipientDto)
  to!: TwilioRecipientDto[];

  @ApiProperty({ type: TwilioContentDto })
  @IsObject()
  @ValidateNested()
  @Type(() => TwilioContentDto)
  content!: TwilioContentDto;

  @ApiPropertyOptional({ description: 'as `options` of POST /v1/push' })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => PushOptionsDto)
  options?: PushOptionsDto;

  @ApiPropertyOptional({ description: 'a subscription topic: recipients who turned it off are skipped (`topic_unsubscribed`)' })
  @IsOptional()
  @IsString()
  @topicProperty()
  topic?: string;
}
