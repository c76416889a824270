import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsString, MaxLength } from 'class-validator';

export class CreateWebhookDto {
  @ApiProperty({ example: 'https://example.com/pushledger-events', description: 'http or https; deliveries are POSTs signed with `Pushledger-Signature`.' })
  @IsString()
  @MaxLength(2048)
  url!: string;

  @ApiProperty({ example: ['TokenInvalidated', 'PushOutcome'], description: 'Lifecycle fact types and `PushOutcome`, or `["*"]` for all.' })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @IsString({ each: true })
  events!: string[];
}
