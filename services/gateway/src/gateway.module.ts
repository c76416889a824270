import { Module, Type } from '@nestjs/common';
import type { PushledgerConfig } from '@pushledger/config';
import { PlatformModule } from '@pushledger/platform';

export function gatewayModule(config: PushledgerConfig): Type<unknown> {
  @Module({ imports: [PlatformModule.forRoot({ service: 'gateway', config, dependencies: ['kafka', 'postgres', 'mongo'] })] })
  class GatewayModule {}
  return GatewayModule;
}
