import { Module, Type } from '@nestjs/common';
import type { PushledgerConfig } from '@pushledger/config';
import { PlatformModule } from '@pushledger/platform';

export function deliveryModule(config: PushledgerConfig): Type<unknown> {
  @Module({ imports: [PlatformModule.forRoot({ service: 'delivery', config, dependencies: ['kafka', 'postgres'] })] })
  class DeliveryModule {}
  return DeliveryModule;
}
