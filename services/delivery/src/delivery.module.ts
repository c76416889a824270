import { Module, Type } from '@nestjs/common';
import type { PushledgerConfig } from '@pushledger/config';
import { PlatformModule } from '@pushledger/platform';
import { DeliveryConsumer } from './delivery.consumer';

export function deliveryModule(config: PushledgerConfig): Type<unknown> {
  @Module({
    imports: [PlatformModule.forRoot({ service: 'delivery', config, dependencies: ['kafka', 'postgres', 'eventStore'] })],
    providers: [DeliveryConsumer],
  })
  class DeliveryModule {}
  return DeliveryModule;
}
