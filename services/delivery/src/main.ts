import { MicroserviceOptions } from '@nestjs/microservices';
import { KafkaBatchTransport } from '@pushledger/kafka';
import { bootstrapService } from '@pushledger/platform';
import { deliveryModule } from './delivery.module';

void bootstrapService('delivery', deliveryModule, {
  start: async (app) => {
    app.connectMicroservice<MicroserviceOptions>({ strategy: app.get(KafkaBatchTransport) });
    await app.startAllMicroservices();
  },
});
