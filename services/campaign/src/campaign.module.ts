import { Module, Type } from '@nestjs/common';
import type { PushledgerConfig } from '@pushledger/config';
import { PlatformModule } from '@pushledger/platform';

export function campaignModule(config: PushledgerConfig): Type<unknown> {
  @Module({ imports: [PlatformModule.forRoot({ service: 'campaign', config, dependencies: ['kafka', 'postgres', 'mongo'] })] })
  class CampaignModule {}
  return CampaignModule;
}
