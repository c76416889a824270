import { MicroserviceOptions } from '@nestjs/microservices';
import { KafkaBatchTransport } from '@pushledger/kafka';
import { bootstrapService } from '@pushledger/platform';
import { identityModule } from './identity.module';

void bootstrapService('identity', identityModule, {
  start: async (app) => {
    app.connectMicroservice<MicroserviceOptions>({ strategy: app.get(KafkaBatchTransport) });
    await app.startAllMicroservices();
  },
});
