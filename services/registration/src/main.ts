import { MicroserviceOptions } from '@nestjs/microservices';
import { KafkaBatchTransport } from '@pushledger/kafka';
import { bootstrapService } from '@pushledger/platform';
import { registrationModule } from './registration.module';

void bootstrapService('registration', registrationModule, {
  start: async (app) => {
    app.connectMicroservice<MicroserviceOptions>({ strategy: app.get(KafkaBatchTransport) });
    await app.startAllMicroservices();
  },
});
